/* Applied in <head>, before the body paints, so a saved dark theme never flashes light. */
(function () {
  "use strict";
  try {
    var theme = window.localStorage.getItem("reportgen-theme");
    if (theme === "light" || theme === "dark" || theme === "auto") {
      document.documentElement.setAttribute("data-theme", theme);
    }
  } catch (e) { /* storage unavailable (private mode): keep following the OS */ }
}());
