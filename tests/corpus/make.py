"""Writes the odd-input corpus next to this file: each file is a real input a data engineer meets.

Run it to regenerate; the files are committed, so the tests need no Python. `expect.tsv` says,
per file, whether lake must read it back (`read`, with the rows it must hold) or refuse it
(`refuse`, with text the error must contain).
"""
import json
import os

here = os.path.dirname(os.path.abspath(__file__))


def w(name, data):
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(os.path.join(here, name), mode, **({} if mode == "wb" else {"newline": ""})) as f:
        f.write(data)


# CSV: encodings, line ends, headers, values.
w("bom.csv", "\ufeffid,name\n1,a\n2,b\n".encode("utf-8"))
w("crlf.csv", "id,name\r\n1,a\r\n2,b\r\n")
w("cr_only.csv", "id,name\r1,a\r2,b\r")
w("no_final_newline.csv", "id,name\n1,a\n2,b")
w("blank_lines_at_end.csv", "id,name\n1,a\n2,b\n\n\n")
w("nul_byte.csv", b"id,name\n1,a\x00b\n2,c\n")
w("duplicate_header.csv", "id,id\n1,2\n")
w("empty_header_field.csv", "id,,name\n1,2,a\n")
w("blank_header_field.csv", "id, ,name\n1,2,a\n")
w("header_only.csv", "id,name\n")
w("zero_bytes.csv", "")
w("only_newline.csv", "\n")
w("int_overflow.csv", "id\n1\n99999999999999999999999\n")
w("int_min_max.csv", "id\n-9223372036854775808\n9223372036854775807\n")
w("nan_inf.csv", "x\n1.5\nNaN\ninf\n-inf\n")
w("bad_date.csv", "d\n2026-01-01\n2026-13-45\n")
w("dates.csv", "d\n2026-01-01\n2026-02-28\n")
w("timestamps_mixed_zones.csv", "t\n2026-01-01T00:00:00Z\n2026-01-01T01:00:00+01:00\n")
w("quoted_newlines.csv", 'id,note\n1,"line one\nline two"\n2,"x"\n')
w("escaped_quotes.csv", 'id,note\n1,"she said ""hi"""\n')
w("stray_quote.csv", 'id,note\n1,ok\n2,"open\n3,z\n')
w("ragged_short.csv", "a,b,c\n1,2\n")
w("ragged_long.csv", "a,b\n1,2,3\n")
w("unicode_names.csv", "größe,名前,emoji🙂\n1,a,b\n")
w("spaces_in_names.csv", " padded ,with space\n1,2\n")
w("long_field.csv", "id,blob\n1," + "x" * 200_000 + "\n")
w("all_null_column.csv", "id,empty\n1,\n2,\n")
w("bools.csv", "b\ntrue\nfalse\nTRUE\n")
w("mixed_int_float.csv", "x\n1\n2.5\n")
w("leading_zeros.csv", "zip\n01234\n00501\n")
w("semicolon.csv", "a;b\n1;2\n")
w("thousand_columns.csv", ",".join(f"c{i}" for i in range(1000)) + "\n" + ",".join("1" for _ in range(1000)) + "\n")
w("invalid_utf8.csv", b"id,name\n1,\xff\xfe\n")
w("latin1.csv", "id,name\n1,caf\xe9\n".encode("latin-1"))
w("very_long_header.csv", ("h" * 10_000) + "\n1\n")
w("sql_keyword_names.csv", "select,from,where\n1,2,3\n")
w("numeric_names.csv", "1,2\na,b\n")

# JSON and NDJSON.
w("ndjson_ok.ndjson", '{"a":1,"b":"x"}\n{"a":2,"b":null}\n')
w("ndjson_missing_keys.ndjson", '{"a":1}\n{"b":"x"}\n')
w("ndjson_type_change.ndjson", '{"a":1}\n{"a":"x"}\n')
w("ndjson_blank_lines.ndjson", '{"a":1}\n\n{"a":2}\n\n')
w("ndjson_crlf.ndjson", '{"a":1}\r\n{"a":2}\r\n')
w("ndjson_bad_line.ndjson", '{"a":1}\n{"a":\n{"a":3}\n')
w("ndjson_top_level_scalar.ndjson", "1\n2\n")
w("ndjson_top_level_array.ndjson", "[1,2]\n")
w("ndjson_nested.ndjson", '{"a":{"b":{"c":1}},"l":[1,2]}\n')
deep = "1"
for i in range(64):
    deep = '{"k":' + deep + "}"
w("ndjson_deep_64.ndjson", deep + "\n")
w("ndjson_keys_odd.ndjson", '{"a:b":1,"c,d":2,"e f":3,"  g  ":4}\n')
w("ndjson_nested_keys_odd.ndjson", '{"s":{"a:b":1,"c,d":2,"  g  ":3}}\n')
w("ndjson_empty_key.ndjson", '{"":1}\n')
w("ndjson_duplicate_keys.ndjson", '{"a":1,"a":2}\n')
w("ndjson_unicode.ndjson", '{"名前":"値","e":"\\u00e9"}\n')
w("ndjson_big_int.ndjson", '{"a":123456789012345678901234567890}\n')
w("ndjson_floats.ndjson", '{"x":1e308}\n{"x":-0.0}\n')
w("ndjson_empty_object.ndjson", "{}\n{}\n")
w("json_array.json", json.dumps([{"a": 1}, {"a": 2}]))
w("json_array_empty.json", "[]")
w("json_object_stream.json", '{"a":1} {"a":2}')
w("json_mixed_array_and_lines.json", '[{"a":1}]\n{"a":2}\n')
w("json_scalar.json", "42")
w("json_truncated.json", '[{"a":1},{"a":')
w("json_bom.json", "\ufeff[{\"a\":1}]".encode("utf-8"))
w("json_nested_arrays.json", json.dumps([{"m": [[1, 2], [3]]}]))
