// mynasign pages: confirmation dialogs, copy buttons and busy submit buttons.
// Everything here is an enhancement: without JavaScript, a dialog link opens the
// confirmation page, copy buttons stay hidden and forms submit as usual.
"use strict";

(function () {
  function openDialog(event) {
    var dialog = document.getElementById(event.currentTarget.getAttribute("data-dialog"));
    if (!dialog || typeof dialog.showModal !== "function") {
      return; // follow the link to the confirmation page
    }
    event.preventDefault();
    dialog.showModal();
  }

  function closeDialog(event) {
    var dialog = event.currentTarget.closest("dialog");
    if (dialog) {
      dialog.close();
    }
  }

  function announce(message) {
    var status = document.getElementById("live-status");
    if (status) {
      status.textContent = "";
      window.setTimeout(function () { status.textContent = message; }, 50);
    }
  }

  function enableCopy(button) {
    if (!navigator.clipboard) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      var source = document.getElementById(button.getAttribute("data-copy"));
      if (!source) {
        return;
      }
      navigator.clipboard.writeText(source.textContent.trim()).then(function () {
        var label = button.textContent;
        button.textContent = button.getAttribute("data-copied");
        announce(button.getAttribute("data-copied"));
        window.setTimeout(function () { button.textContent = label; }, 2000);
      });
    });
  }

  function markBusy(event) {
    var button = event.currentTarget.querySelector("button[type=submit]");
    if (!button) {
      return;
    }
    // after the submission has started, so the button's form still goes out
    window.setTimeout(function () {
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
      if (button.getAttribute("data-busy-text")) {
        button.textContent = button.getAttribute("data-busy-text");
      }
    }, 0);
  }

  document.querySelectorAll("[data-dialog]").forEach(function (link) {
    link.addEventListener("click", openDialog);
  });
  document.querySelectorAll("[data-close-dialog]").forEach(function (button) {
    button.addEventListener("click", closeDialog);
  });
  document.querySelectorAll("[data-copy]").forEach(enableCopy);
  document.querySelectorAll("form[data-busy-form]").forEach(function (form) {
    form.addEventListener("submit", markBusy);
  });
})();
