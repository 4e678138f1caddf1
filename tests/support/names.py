"""Free-text resource and translation names that must round-trip everywhere."""

FREE_TEXT_NAMES = [
    "Pages/Home",
    "a#b?c",
    "back\\slash",
    "日本語",
    "tab\there",
    "..",
    "percent%20",
    "quote's",
    "pipe|bar",
    "!",
    "!u2028",
    "new\nline",
    "\uffffat the very top",
    "😀 beyond the BMP",
    "line\u2028and paragraph\u2029separators",
]
