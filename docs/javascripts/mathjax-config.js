// MathJax 3 configuration for pymdownx.arithmatex (generic mode). The MathJax bundle itself
// (tex-svg-full.js: every TeX extension and the SVG fonts in one file, so nothing is fetched
// at view time) is copied into the site by docs/hooks/site.py from the django-static-mathjax
// package of the docs extra.
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true
  },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex"
  }
};
