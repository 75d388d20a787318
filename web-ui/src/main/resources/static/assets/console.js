// The console's only script besides htmx. Pages are server-rendered; this wires the few
// behaviours HTML alone lacks. No inline scripts anywhere: the content security policy forbids them.
(function () {
  'use strict';

  function csrf() {
    var header = document.querySelector('meta[name="csrf-header"]');
    var token = document.querySelector('meta[name="csrf-token"]');
    return header && token ? { header: header.content, token: token.content } : null;
  }

  // htmx requests carry the session's CSRF token like forms do
  document.addEventListener('htmx:configRequest', function (event) {
    var c = csrf();
    if (c) { event.detail.headers[c.header] = c.token; }
  });

  document.addEventListener('change', function (event) {
    var el = event.target;
    if (el.matches && el.matches('[data-autosubmit]') && el.form) { el.form.submit(); }
  });

  document.addEventListener('click', function (event) {
    var opener = event.target.closest && event.target.closest('[data-open-dialog]');
    if (opener) {
      var dialog = document.getElementById(opener.getAttribute('data-open-dialog'));
      if (dialog && dialog.showModal) { dialog.showModal(); }
      event.preventDefault();
      return;
    }
    var closer = event.target.closest && event.target.closest('[data-close-dialog]');
    if (closer) {
      var d = closer.closest('dialog');
      if (d) { d.close(); }
      event.preventDefault();
    }
  });

  // forms that destroy something ask first; the question is in data-confirm
  document.addEventListener('submit', function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute('data-confirm');
    if (question && !window.confirm(question)) { event.preventDefault(); }
  }, true);

  // <select data-show-group="name"> shows the [data-group="name"][data-when="value"] blocks that match
  function syncGroups(select) {
    var group = select.getAttribute('data-show-group');
    document.querySelectorAll('[data-group="' + group + '"]').forEach(function (block) {
      var on = block.getAttribute('data-when') === select.value;
      block.hidden = !on;
      block.querySelectorAll('input, select, textarea').forEach(function (i) { i.disabled = !on; });
    });
  }
  document.addEventListener('change', function (event) {
    if (event.target.matches && event.target.matches('[data-show-group]')) { syncGroups(event.target); }
  });
  document.addEventListener('DOMContentLoaded', function () {
    document.querySelectorAll('[data-show-group]').forEach(syncGroups);
  });
  document.addEventListener('htmx:afterSettle', function () {
    document.querySelectorAll('[data-show-group]').forEach(syncGroups);
  });
})();
