// mynasign's card session page: the countdown, the copy button and the live status.
// The server sends the party's card status as server-sent events (EventSource reconnects
// by itself after a dropped connection or a restart, and the first event after it is the
// current status). Without JavaScript the page still shows the QR code, and reloading it
// shows where things are: a party who has signed is sent back to the document.
"use strict";

(function () {
  var root = document.getElementById("card-session");
  var textsNode = document.getElementById("card-texts");
  if (!root || !textsNode) {
    return;
  }
  var texts = JSON.parse(textsNode.textContent);
  var language = document.documentElement.lang === "en" ? "en" : "ja";
  var sessionId = root.getAttribute("data-session-id");
  var deadline = Date.now() + Number(root.getAttribute("data-remaining")) * 1000;
  var stateLine = document.getElementById("card-state");
  var errorBox = document.getElementById("card-error");
  var connection = document.getElementById("card-connection");
  var countdown = document.getElementById("card-countdown");
  var live = document.getElementById("card-live");
  var refresh = document.getElementById("card-refresh");
  var ended = false;
  var feed = null;
  var timer = null;

  function setText(node, message) {
    node.textContent = message || "";
    node.hidden = !message;
  }

  function twoDigits(number) {
    return (number < 10 ? "0" : "") + number;
  }

  function messageOf(error) {
    return error ? error["message_" + language] || error.message_ja || "" : "";
  }

  // The session can no longer be used: say why, hide the QR code, offer a new one.
  function end(reason) {
    if (ended) {
      return;
    }
    ended = true;
    window.clearInterval(timer);
    live.hidden = true;
    setText(errorBox, reason);
    setText(stateLine, texts.try_again);
    root.classList.add("card-flow--ended");
    refresh.classList.add("button--primary");
  }

  // The party is done (signed here, or answered elsewhere): the document page says how.
  function finish(message) {
    ended = true;
    window.clearInterval(timer);
    if (feed) {
      feed.close();
    }
    live.hidden = true;
    setText(errorBox, "");
    setText(stateLine, message);
    window.location.assign(root.getAttribute("data-done"));
  }

  function tick() {
    var seconds = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
    countdown.textContent = twoDigits(Math.floor(seconds / 60)) + ":" + twoDigits(seconds % 60);
    if (seconds === 0) {
      end(texts.expired);
    }
  }

  function progress(status) {
    if (status.stage && texts["stage_" + status.stage]) {
      return texts["stage_" + status.stage];
    }
    if (status.order === "password-first") {
      return texts.state_claimed + " " + texts.next_password;
    }
    if (status.order === "card-first") {
      return texts.state_claimed + " " + texts.next_card;
    }
    return texts.state_claimed;
  }

  function show(status) {
    if (status.done || status.recipient_status === "agreed") {
      finish(texts.state_completed);
      return;
    }
    if (status.recipient_status === "rejected") {
      finish("");
      return;
    }
    if (status.session_id !== sessionId) {
      end(texts.replaced); // a newer QR code (another tab, the app, the API)
      return;
    }
    if (ended) {
      return;
    }
    var error = status.error;
    switch (status.state) {
      case "created":
        setText(stateLine, texts.state_created);
        setText(errorBox, messageOf(error));
        break;
      case "claimed":
      case "signing":
        setText(stateLine, progress(status));
        setText(errorBox, messageOf(error)); // a wrong password with the tries left, say
        break;
      case "rejected":
        end(texts.state_rejected + " " + messageOf(error));
        break;
      case "cancelled":
        end(error && error.code === "replaced" ? texts.replaced : messageOf(error));
        break;
      case "expired":
        end(messageOf(error) || texts.expired);
        break;
      default:
        break;
    }
  }

  function follow() {
    if (!window.EventSource) {
      return;
    }
    feed = new EventSource(root.getAttribute("data-events"));
    feed.onopen = function () {
      setText(connection, "");
    };
    feed.onmessage = function (event) {
      setText(connection, "");
      var status;
      try {
        status = JSON.parse(event.data);
      } catch (ignored) {
        return;
      }
      show(status);
    };
    feed.onerror = function () {
      // CONNECTING: the browser tries again by itself; CLOSED: it gave up (a 401, say)
      var closed = feed.readyState === EventSource.CLOSED;
      setText(connection, closed ? texts.feed_closed : texts.reconnecting);
    };
  }

  function announce(message) {
    var status = document.getElementById("live-status");
    if (status) {
      status.textContent = message;
    }
  }

  function enableCopy(button) {
    var source = document.getElementById(button.getAttribute("data-card-copy"));
    if (!source) {
      return;
    }
    var label = button.textContent;
    function say(message) {
      button.textContent = message;
      announce(message);
      window.setTimeout(function () { button.textContent = label; }, 2000);
    }
    function select() {
      var range = document.createRange();
      range.selectNodeContents(source);
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      say(texts.copy_selected);
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      if (!navigator.clipboard) {
        select();
        return;
      }
      navigator.clipboard.writeText(source.textContent.trim()).then(function () {
        say(button.getAttribute("data-copied"));
      }, select);
    });
  }

  document.querySelectorAll("[data-card-copy]").forEach(enableCopy);
  timer = window.setInterval(tick, 1000);
  tick();
  follow();
  root.setAttribute("data-running", "1"); // the countdown and the feed have started
})();

// The party's document page right after the last signature (issue 12.7): the service is
// finishing the document (seal and timestamp); look again until it says "complete".
(function () {
  var finishing = document.querySelector("[data-finishing]");
  if (!finishing) {
    return;
  }
  var seconds = Number(finishing.getAttribute("data-finishing")) || 3;
  window.setTimeout(function () {
    window.location.reload();
  }, seconds * 1000);
})();
