-- Files: the sha256 of each fixed-size block of a file, so a reader can check exactly the bytes
-- it fetches as it reads them. JSON `{"size": BYTES, "sha256": [HEX, ...]}`; NULL for files
-- written before, which readers check whole.

ALTER TABLE files ADD COLUMN blocks TEXT;
