// Results as you type on the search page. Without this script the form still works: it is a
// plain GET form. The server answers `?fragment=1` with the results list alone.
(function () {
  var form = document.getElementById("search-form");
  var results = document.getElementById("results");
  if (!form || !results || !window.fetch) return;
  var timer = null, asked = 0;
  function update() {
    var params = new URLSearchParams(new FormData(form));
    if (form.dataset.static === "1") {
      var words = (params.get("q") || "").toLowerCase().split(/\s+/).filter(Boolean);
      var zone = params.get("zone") || "";
      results.querySelectorAll("li[data-text]").forEach(function (li) {
        var text = li.getAttribute("data-text");
        var shown = words.every(function (w) { return text.indexOf(w) >= 0; }) &&
          (!zone || li.getAttribute("data-zone") === zone);
        li.hidden = !shown;
      });
      return;
    }
    params.set("fragment", "1");
    var mine = ++asked;
    fetch(form.action + "?" + params.toString(), { credentials: "same-origin" })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        if (mine !== asked) return;
        results.innerHTML = html;
        params.delete("fragment");
        history.replaceState(null, "", form.action + "?" + params.toString());
      });
  }
  form.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(update, 120);
  });
})();
