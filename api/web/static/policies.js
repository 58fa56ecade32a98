// an error's file:line link selects that line in its textarea (works without it too)
document.querySelectorAll("a.loc").forEach(function (a) {
  a.addEventListener("click", function (ev) {
    var area = document.getElementById(a.dataset.file);
    if (!area) return;
    ev.preventDefault();
    var lines = area.value.split("\n"), line = Math.max(1, +a.dataset.line), start = 0;
    for (var i = 0; i < line - 1 && i < lines.length; i++) start += lines[i].length + 1;
    area.focus();
    area.setSelectionRange(start, start + (lines[line - 1] || "").length);
    area.scrollTop = Math.max(0, (line - 3) * parseFloat(getComputedStyle(area).lineHeight || 18));
  });
});
