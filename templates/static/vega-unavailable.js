/* reportgen: stands in for the Vega bundle when a build could not generate it.
   Each chart says so instead of staying blank; every number is also in the page's tables. */
(function () {
  function explain() {
    document.querySelectorAll(".chart-view").forEach(function (target) {
      target.textContent = "Chart not drawn: this site was built without its chart library " +
        "(the build could not generate it; the next build tries again). " +
        "Every number is also in this page's tables.";
      target.setAttribute("data-rendered", "unavailable");
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", explain);
  } else {
    explain();
  }
})();
