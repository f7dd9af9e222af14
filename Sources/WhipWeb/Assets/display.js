// The big-screen thermometer: live figures from the campaign's event stream; no controls.
'use strict';
(function () {
  var $ = function (id) { return document.getElementById(id); };
  function meta(name) {
    var m = document.querySelector('meta[name="' + name + '"]');
    return m ? m.getAttribute('content') || '' : '';
  }
  var campaignId = meta('whipround-campaign');
  var currency = meta('whipround-currency') || 'GBP';
  var symbols = { GBP: '\u00a3', EUR: '\u20ac', USD: '$' };
  function money(amount, cur) {
    var s = symbols[cur];
    return s ? s + amount : cur + ' ' + amount;
  }

  function apply(s) {
    if (!s || typeof s !== 'object') return;
    if (s.currency) currency = s.currency;
    if (s.title !== undefined) $('display-title').textContent = s.title;
    if (s.pledged !== undefined) $('display-total').textContent = money(s.pledged, currency);
    if (s.goal !== undefined) $('display-goal').textContent = money(s.goal, currency);
    if (typeof s.backers === 'number') $('display-backers').textContent = s.backers + (s.backers === 1 ? ' backer' : ' backers');
    if (s.matched !== undefined) {
      $('display-matched-amount').textContent = money(s.matched, currency);
      $('display-matched').hidden = !(Number(s.matched_minor) > 0);
    }
    var g = Number(s.goal_minor), p = Number(s.pledged_minor) + (Number(s.matched_minor) || 0);
    var pct = typeof s.percent === 'number' ? s.percent : g > 0 ? Math.min(100, Math.floor((p * 100) / g)) : 100;
    if (typeof s.standing === 'string') {
      var closed = { 'closed-funded': 'Pledging has closed: thank you!', 'closed-unfunded': 'Pledging has closed: thank you!',
        cancelled: 'This campaign was cancelled.' }[s.standing];
      $('display-standing').textContent = closed || '';
      $('display-standing').hidden = !closed;
    }
    var bar = $('display-progress');
    bar.value = pct;
    bar.textContent = pct + '%';
  }

  var stream = null;
  function connect() {
    if (!campaignId || typeof EventSource !== 'function') return;
    if (stream) stream.close();
    stream = new EventSource('/api/v1/campaigns/' + encodeURIComponent(campaignId) + '/stream');
    stream.addEventListener('progress', function (ev) {
      $('display-status').textContent = '';
      try { apply(JSON.parse(ev.data)); } catch (e) { /* a malformed event changes nothing */ }
    });
    stream.onerror = function () {
      $('display-status').textContent = 'Reconnecting\u2026';
      if (stream.readyState === EventSource.CLOSED) setTimeout(connect, 3000);
    };
  }
  window.addEventListener('online', function () {
    if (!stream || stream.readyState !== EventSource.OPEN) connect();
  });
  connect();
})();
