// The pledge desk: review -> confirm -> send -> receipt, an offline queue in localStorage, live progress by SSE.
// Plain JavaScript for a page served over plain HTTP on a LAN: no service workers, no SubtleCrypto, no inline code.
'use strict';
(function () {
  var $ = function (id) { return document.getElementById(id); };
  function meta(name) {
    var m = document.querySelector('meta[name="' + name + '"]');
    return m ? m.getAttribute('content') || '' : '';
  }
  var csrf = meta('whipround-csrf');
  var campaignId = meta('whipround-campaign');
  var deskName = meta('whipround-desk');
  var currency = meta('whipround-currency') || 'GBP';
  var minorUnit = 2;
  var queueKey = 'whipround.queue.' + deskName;
  var refusedKey = 'whipround.refused.' + deskName;
  var sendTimeoutMs = 10000;
  var retryEveryMs = 5000;

  var form = $('pledge-form');
  var confirmPanel = $('confirm');
  var receiptPanel = $('receipt');
  var tierSelect = $('tier');
  var reachable = navigator.onLine;
  var pending = null; // the request being reviewed
  var results = {}; // key -> {receipt} or {error}, for requests sent from the queue
  var flushing = null;
  var lastFlushRetry = false;
  var taking = true; // false once the campaign stops taking pledges or the desk is refused

  // Money and words ------------------------------------------------------------------------------------------
  var symbols = { GBP: '\u00a3', EUR: '\u20ac', USD: '$' };
  function money(amount, cur) {
    var s = symbols[cur];
    return s ? s + amount : cur + ' ' + amount;
  }
  function backersText(n) { return n + (n === 1 ? ' backer' : ' backers'); }
  function placesText(n) { return n + (n === 1 ? ' place left' : ' places left'); }

  // The amount as the API wants it ("12.50") and in minor units, or null when it is not a valid positive amount
  // with at most `minorUnit` decimals.
  function parseAmount(text) {
    var t = String(text).trim().replace(/^[\u00a3\u20ac$]/, '').replace(/,/g, '');
    var re = minorUnit > 0 ? new RegExp('^(\\d{1,9})(?:\\.(\\d{1,' + minorUnit + '}))?$') : /^(\d{1,9})$/;
    var m = re.exec(t);
    if (!m) return null;
    var scale = Math.pow(10, minorUnit);
    var frac = ((m[2] || '') + '000000').slice(0, minorUnit);
    var minor = Number(m[1]) * scale + (minorUnit > 0 ? Number(frac) : 0);
    if (!(minor > 0)) return null;
    var whole = String(Math.floor(minor / scale));
    var text2 = minorUnit > 0 ? whole + '.' + String(minor % scale).padStart(minorUnit, '0') : whole;
    return { text: text2, minor: minor };
  }

  function newKey() {
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    var s = '';
    for (var i = 0; i < b.length; i++) s += (b[i] < 16 ? '0' : '') + b[i].toString(16);
    return s;
  }

  // Messages -------------------------------------------------------------------------------------------------
  function showError(text) { $('error').textContent = text; }
  function clearError() { $('error').textContent = ''; }
  function notice(text) { $('notice').textContent = text; }
  function errorText(body, status) {
    var err = body && body.error;
    var msg = err && err.message ? err.message : 'The node refused the request (HTTP ' + status + ').';
    if (!/[.!?]$/.test(msg)) msg += '.';
    if (err && /^desk\.(closed|expired|no_session)$/.test(err.code)) msg += ' Ask the organiser for a new desk code.';
    return msg;
  }
  // Why a desk the node refused takes no more pledges, or null when the refusal was about the pledge.
  function deskRefused(body) {
    var code = body && body.error && body.error.code;
    var why = { 'desk.closed': 'This desk was closed at the node', 'desk.expired': 'This desk has expired',
      'desk.no_session': 'This phone is no longer paired with the desk' }[code];
    return why ? why + ': it takes no more pledges. Ask the organiser for a new desk code.' : null;
  }
  function describe(item) {
    return (item.name ? 'the pledge from ' + item.name : 'an anonymous pledge') + ' of ' + money(item.amount, currency);
  }

  function setReachable(ok) {
    reachable = ok;
    renderStatus();
  }
  function renderStatus() {
    var s = $('status');
    var online = navigator.onLine && reachable;
    s.textContent = online
      ? 'Online: connected to the node.'
      : 'Offline: the node cannot be reached. Pledges are kept on this phone and sent when it answers. ' +
        'Do not reload this page until then: it cannot load without the node.';
    s.classList.toggle('offline', !online);
  }

  // The offline queue ----------------------------------------------------------------------------------------
  function loadQueue() {
    try {
      var q = JSON.parse(localStorage.getItem(queueKey) || '[]');
      return Array.isArray(q) ? q : [];
    } catch (e) {
      return [];
    }
  }
  function saveQueue(q) {
    try {
      localStorage.setItem(queueKey, JSON.stringify(q));
      return true;
    } catch (e) {
      showError('This phone could not keep the pledge (its storage is full or blocked). Write it down.');
      return false;
    }
  }
  function removeFromQueue(key) {
    saveQueue(loadQueue().filter(function (i) { return i.key !== key; }));
  }
  function renderQueue() {
    var n = loadQueue().length;
    var q = $('queue');
    q.textContent = 'Waiting to send: ' + n;
    q.hidden = n === 0;
  }

  // Pledges from the queue the node refused: kept on this phone, listed one by one, until the volunteer clears
  // them (the form has moved on, so this list is the only record of what the donor was told).
  function loadRefused() {
    try {
      var r = JSON.parse(localStorage.getItem(refusedKey) || '[]');
      return Array.isArray(r) ? r : [];
    } catch (e) {
      return [];
    }
  }
  function keepRefused(item, error) {
    var r = loadRefused();
    r.push({ item: item, error: error });
    try { localStorage.setItem(refusedKey, JSON.stringify(r)); } catch (e) { /* still shown until reload */ }
    renderRefused(r);
  }
  function renderRefused(list) {
    var r = list || loadRefused();
    var ul = $('refused-list');
    ul.textContent = '';
    r.forEach(function (x) {
      var li = document.createElement('li');
      var what = document.createElement('strong');
      var d = describe(x.item);
      what.textContent = d.charAt(0).toUpperCase() + d.slice(1) + ', ' + (paymentWords[x.item.payment] || x.item.payment).toLowerCase() + ': ';
      li.appendChild(what);
      li.appendChild(document.createTextNode(x.error));
      ul.appendChild(li);
    });
    $('refused').hidden = r.length === 0;
  }

  function post(path, body) {
    var ctl = typeof AbortController === 'function' ? new AbortController() : null;
    var timer = ctl ? setTimeout(function () { ctl.abort(); }, sendTimeoutMs) : null;
    return fetch(path, {
      method: 'POST',
      credentials: 'same-origin',
      cache: 'no-store',
      headers: { 'Content-Type': 'application/json', 'X-Whipround-CSRF': csrf },
      body: JSON.stringify(body),
      signal: ctl ? ctl.signal : undefined
    }).then(function (res) {
      return res.json().catch(function () { return null; }).then(function (json) {
        return { status: res.status, ok: res.ok, body: json };
      });
    }).finally(function () { if (timer) clearTimeout(timer); });
  }

  // One request: {receipt}, {error} (a 4xx: it will never succeed) or {retry} (no answer, 5xx, rate limited).
  function send(item) {
    return post('/api/v1/desk/pledges', item).then(function (r) {
      if (r.ok && r.body) return { receipt: r.body };
      if (r.status >= 500 || r.status === 429 || r.status === 408 || r.ok) return { retry: true, status: r.status };
      return { error: errorText(r.body, r.status), deskRefused: deskRefused(r.body) };
    }, function () {
      return { retry: true };
    });
  }

  async function flushNow() {
    var tried = {};
    lastFlushRetry = false;
    for (;;) {
      var item = loadQueue().find(function (i) { return !tried[i.key]; });
      if (!item) break;
      tried[item.key] = true;
      var r = await send(item);
      if (r.retry) {
        lastFlushRetry = true;
        if (!r.status) setReachable(false);
        break;
      }
      setReachable(true);
      removeFromQueue(item.key);
      results[item.key] = r;
      if (r.receipt) {
        if (r.receipt.campaign) applySummary(r.receipt.campaign);
        if (!pendingKeys[item.key]) notice('Sent ' + describe(item) + ': reference ' + r.receipt.reference + '.');
        // The receipt still on screen for this pledge said "kept on this phone": it now has its reference.
        if (keptShown === item.key) showTaken(r.receipt);
      } else if (!pendingKeys[item.key]) {
        keepRefused(item, r.error);
      }
      if (r.deskRefused) stopTaking(r.deskRefused, true);
    }
    renderQueue();
  }
  var pendingKeys = {}; // keys whose outcome the confirm step is waiting for (it reports them itself)
  var keptShown = null; // the key of the pledge the receipt shows as kept on this phone, until it is sent
  // The receipt of a pledge the node recorded: its reference, amount and standing.
  function showTaken(rc) {
    keptShown = null;
    $('reference-line').hidden = false;
    $('receipt-waiting').hidden = true;
    $('receipt-heading').textContent = 'Pledge taken';
    $('reference').textContent = rc.reference;
    $('receipt-text').textContent = money(rc.amount, currency) + ' recorded' +
      (rc.waitlisted ? ', on the waitlist: the tier is full' : '') +
      (rc.duplicate ? ' (it had already reached the node: recorded once)' : '') + '.';
  }
  function flush() {
    if (!flushing) {
      flushing = flushNow().finally(function () { flushing = null; });
    }
    return flushing;
  }

  // Live progress --------------------------------------------------------------------------------------------
  function percent(s) {
    if (typeof s.percent === 'number') return s.percent;
    var g = Number(s.goal_minor), p = Number(s.pledged_minor);
    if (!(g > 0)) return p > 0 ? 100 : 0;
    return Math.min(100, Math.floor((p * 100) / g));
  }
  function tierLabel(t) {
    var full = t.places_left === 0;
    var text = t.title + ': from ' + money(t.minimum, currency);
    if (full) return text + ', full (waitlist)';
    if (t.places_left !== null && t.places_left !== undefined) return text + ', ' + placesText(t.places_left);
    return text;
  }
  // Why a campaign that is not live takes no pledges, in plain words.
  function standingText(standing) {
    var why = { 'closed-funded': 'it has closed', 'closed-unfunded': 'it has closed', cancelled: 'it was cancelled',
      draft: 'it is not published yet' }[standing] || 'it is ' + standing;
    return 'This campaign is no longer taking pledges (' + why + '). Pledges already taken are safe.';
  }
  function applyStanding(standing) {
    if (!standing) return;
    if (standing === 'live') startTaking();
    else stopTaking(standingText(standing));
  }
  var stoppedBy = null;
  var deskStopped = false;
  function stopTaking(text, byDesk) {
    if (deskStopped && !byDesk) return; // the desk's refusal outranks the campaign's standing
    taking = false;
    stoppedBy = text;
    deskStopped = deskStopped || !!byDesk;
    var st = $('standing');
    st.textContent = text;
    st.hidden = false;
    setControls(false);
  }
  // Only a live campaign starts the desk again; a refused desk stays stopped until the page is reloaded.
  function startTaking() {
    if (taking || deskStopped) return;
    taking = true;
    stoppedBy = null;
    $('standing').hidden = true;
    setControls(true);
  }
  function setControls(on) {
    Array.prototype.forEach.call(form.querySelectorAll('input,select,textarea,button'), function (e) { e.disabled = !on; });
    $('confirm-send').disabled = !on;
    $('undo').disabled = !on;
  }
  function applySummary(s) {
    if (!s || typeof s !== 'object') return;
    if (typeof s.standing === 'string') applyStanding(s.standing);
    if (s.currency) currency = s.currency;
    if (typeof s.minor_unit === 'number') minorUnit = s.minor_unit;
    if (s.pledged !== undefined) $('total').textContent = money(s.pledged, currency);
    if (s.goal !== undefined && $('goal')) $('goal').textContent = money(s.goal, currency);
    if (typeof s.backers === 'number') $('backers').textContent = backersText(s.backers);
    if (s.matched !== undefined && $('matched')) {
      $('matched-amount').textContent = money(s.matched, currency);
      $('matched').hidden = !(Number(s.matched_minor) > 0);
    }
    var p = $('progress');
    p.value = percent(s);
    p.textContent = percent(s) + '%';
    if (Array.isArray(s.tiers)) {
      s.tiers.forEach(function (t) {
        if (!tierSelect) return;
        for (var i = 0; i < tierSelect.options.length; i++) {
          var o = tierSelect.options[i];
          if (o.value === t.id) {
            o.textContent = tierLabel(t);
            o.setAttribute('data-full', t.places_left === 0 ? '1' : '0');
            o.setAttribute('data-minimum-minor', String(t.minimum_minor));
          }
        }
      });
      showTierWarning();
    }
  }

  var stream = null;
  var streamTimer = null;
  function connect() {
    if (!campaignId || typeof EventSource !== 'function') return;
    if (stream) stream.close();
    clearTimeout(streamTimer);
    stream = new EventSource('/api/v1/campaigns/' + encodeURIComponent(campaignId) + '/stream');
    stream.addEventListener('progress', function (ev) {
      setReachable(true);
      try { applySummary(JSON.parse(ev.data)); } catch (e) { /* a malformed event changes nothing */ }
    });
    stream.onopen = function () { setReachable(true); };
    stream.onerror = function () {
      setReachable(false);
      // The browser reconnects by itself unless it gave up (CLOSED): then start again.
      if (stream.readyState === EventSource.CLOSED) streamTimer = setTimeout(connect, 3000);
    };
  }

  // The form -------------------------------------------------------------------------------------------------
  function chosenTier() {
    if (!tierSelect || !tierSelect.value) return null;
    return tierSelect.options[tierSelect.selectedIndex];
  }
  function showTierWarning() {
    var w = $('tier-full-warning');
    if (!w) return;
    var o = chosenTier();
    w.hidden = !(o && o.getAttribute('data-full') === '1');
  }
  function value(id) {
    var e = $(id);
    return e ? e.value.trim() : '';
  }
  function checked(id) {
    var e = $(id);
    return !!(e && e.checked);
  }

  // The request from the form, or an error message naming the field.
  function readForm() {
    var anonymous = checked('anonymous');
    var name = value('name');
    if (!anonymous && !name) return { error: 'Enter the backer\u2019s name, or tick Anonymous.', field: 'name' };
    if (name.length > 80) return { error: 'The name is longer than 80 characters.', field: 'name' };
    var amount = parseAmount(value('amount'));
    if (!amount) {
      var d = minorUnit > 0 ? ' with at most ' + minorUnit + ' decimals, e.g. 12.50' : ' in whole units';
      return { error: 'Enter an amount above zero' + d + '.', field: 'amount' };
    }
    var tier = chosenTier();
    if (tier && Number(tier.getAttribute('data-minimum-minor')) > amount.minor) {
      return { error: 'This tier needs at least ' + tier.getAttribute('data-minimum') + '.', field: 'amount' };
    }
    var pay = form.querySelector('input[name="payment"]:checked');
    var req = {
      key: null,
      anonymous: anonymous,
      amount: amount.text,
      tier: tier ? tier.value : null,
      payment: pay ? pay.value : 'cash',
      gift_aid: null
    };
    if (name) req.name = name;
    ['email', 'phone', 'address'].forEach(function (f) {
      var v = value(f);
      if (v) req[f] = v;
    });
    for (var f2 of ['email', 'phone', 'address']) {
      if (req[f2] && req[f2].length > 200) return { error: 'The ' + f2 + ' is longer than 200 characters.', field: f2 };
    }
    if (checked('gift-aid')) {
      var ga = {
        title: value('ga-title') || null,
        first_name: value('ga-first'),
        last_name: value('ga-last'),
        house: value('ga-house'),
        postcode: value('ga-postcode').toUpperCase(),
        scope: value('ga-scope') || 'this-donation',
        oral: checked('ga-oral')
      };
      var need = [['ga-first', 'first name', ga.first_name], ['ga-last', 'last name', ga.last_name],
        ['ga-house', 'house name or number', ga.house], ['ga-postcode', 'postcode', ga.postcode]];
      for (var i = 0; i < need.length; i++) {
        if (!need[i][2]) return { error: 'Gift Aid needs the donor\u2019s ' + need[i][1] + '.', field: need[i][0] };
      }
      req.gift_aid = ga;
    }
    return { request: req, tierFull: !!(tier && tier.getAttribute('data-full') === '1'), tierName: tier ? tier.getAttribute('data-title') : null };
  }

  var paymentWords = { cash: 'Cash, paid now', transfer: 'Transfer, paid now', contactless: 'Contactless, paid now', promised: 'Promised, pays later' };
  function fillConfirm(r) {
    var dl = $('confirm-details');
    dl.textContent = '';
    function row(k, v) {
      var dt = document.createElement('dt');
      dt.textContent = k;
      var dd = document.createElement('dd');
      dd.textContent = v;
      dl.appendChild(dt);
      dl.appendChild(dd);
    }
    var q = r.request;
    row('Name', q.anonymous ? (q.name ? q.name + ' (anonymous in public)' : 'Anonymous') : q.name);
    row('Amount', money(q.amount, currency));
    if (q.tier) row('Tier', r.tierName || q.tier);
    row('Payment', paymentWords[q.payment] || q.payment);
    var contact = ['email', 'phone', 'address'].filter(function (f) { return q[f]; }).map(function (f) { return q[f]; });
    row('Contact', contact.length ? contact.join(', ') + ' (sealed to the organisers)' : 'None');
    if (q.gift_aid) {
      var g = q.gift_aid;
      row('Gift Aid', [g.title, g.first_name, g.last_name].filter(Boolean).join(' ') + ', ' + g.house + ', ' + g.postcode +
        (g.scope === 'past-and-future' ? ' (this donation, the past 4 years and the future)' : ' (this donation)') +
        (g.oral ? ', given by word of mouth' : ''));
    }
    $('confirm-waitlist').hidden = !r.tierFull;
  }

  function show(panel) {
    form.hidden = panel !== form;
    confirmPanel.hidden = panel !== confirmPanel;
    receiptPanel.hidden = panel !== receiptPanel;
  }

  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    clearError();
    notice('');
    if (!taking) { showError(stoppedBy); return; }
    var r = readForm();
    if (r.error) {
      showError(r.error);
      var f = $(r.field);
      if (f) f.focus();
      return;
    }
    pending = r;
    fillConfirm(r);
    show(confirmPanel);
    $('confirm-heading').focus();
  });

  $('confirm-back').addEventListener('click', function () {
    pending = null;
    show(form);
    $('review').focus();
  });

  $('confirm-send').addEventListener('click', async function () {
    if (!pending || !taking) return;
    var btn = $('confirm-send');
    btn.disabled = true;
    clearError();
    notice('');
    var req = Object.assign({}, pending.request, { key: newKey() });
    var key = req.key;
    var q = loadQueue();
    q.push(req);
    if (!saveQueue(q)) { btn.disabled = false; return; }
    pendingKeys[key] = true;
    renderQueue();
    try {
      await flush();
      if (!results[key] && !lastFlushRetry && loadQueue().some(function (i) { return i.key === key; })) await flush();
    } finally {
      delete pendingKeys[key];
      btn.disabled = !taking;
    }
    var r = results[key];
    delete results[key];
    if (r && r.error) {
      pending = null;
      show(form);
      showError('Not recorded: ' + r.error);
      $('review').focus();
      return;
    }
    var sent = !!(r && r.receipt);
    if (sent) {
      showTaken(r.receipt);
    } else {
      // No reference yet: the node gives one when the pledge reaches it (this receipt then turns into it).
      keptShown = key;
      $('reference-line').hidden = true;
      $('receipt-waiting').hidden = false;
      $('receipt-heading').textContent = 'Pledge kept on this phone';
      $('reference').textContent = '';
      $('receipt-text').textContent = money(req.amount, currency) + ' will be sent when the node answers, and get its reference then. ' +
        'Do not reload this page until then.';
    }
    pending = null;
    show(receiptPanel);
    $('receipt-heading').focus();
  });

  $('new-pledge').addEventListener('click', function () {
    keptShown = null;
    form.reset();
    clearError();
    notice('');
    Array.prototype.forEach.call(document.querySelectorAll('.quick-amount'), function (b) { b.classList.remove('chosen'); });
    syncGiftAid();
    showTierWarning();
    show(form);
    $('name').focus();
  });

  Array.prototype.forEach.call(document.querySelectorAll('.quick-amount'), function (b) {
    b.addEventListener('click', function () {
      $('amount').value = b.getAttribute('data-amount');
      Array.prototype.forEach.call(document.querySelectorAll('.quick-amount'), function (o) {
        o.classList.toggle('chosen', o === b);
        o.setAttribute('aria-pressed', o === b ? 'true' : 'false');
      });
    });
  });
  $('amount').addEventListener('input', function () {
    Array.prototype.forEach.call(document.querySelectorAll('.quick-amount'), function (o) {
      o.classList.remove('chosen');
      o.setAttribute('aria-pressed', 'false');
    });
  });

  if (tierSelect) tierSelect.addEventListener('change', showTierWarning);

  function syncGiftAid() {
    var box = $('gift-aid');
    if (!box) return;
    $('ga-section').hidden = !box.checked;
    $('ga-oral-note').hidden = !checked('ga-oral');
    var scope = value('ga-scope') || 'this-donation';
    Array.prototype.forEach.call(document.querySelectorAll('#ga-wording .ga-text'), function (p) {
      p.hidden = p.getAttribute('data-scope') !== scope;
    });
  }
  if ($('gift-aid')) {
    $('gift-aid').addEventListener('change', syncGiftAid);
    $('ga-scope').addEventListener('change', syncGiftAid);
    $('ga-oral').addEventListener('change', syncGiftAid);
  }

  // Undo ------------------------------------------------------------------------------------------------------
  $('undo').addEventListener('click', function () {
    clearError();
    if (!taking) { showError(stoppedBy); return; }
    if (loadQueue().length) {
      showError('Some pledges are still waiting to send: undo works once they have reached the node.');
      return;
    }
    if (!window.confirm('Undo the last pledge taken at this desk? It will be withdrawn.')) return;
    var btn = $('undo');
    btn.disabled = true;
    post('/api/v1/desk/undo', {}).then(function (r) {
      setReachable(true);
      if (r.ok && r.body) {
        notice('Withdrawn: pledge ' + r.body.reference + ' of ' + money(r.body.amount, currency) + '.');
        if (r.body.campaign) applySummary(r.body.campaign);
      } else {
        showError('Nothing was undone: ' + errorText(r.body, r.status));
      }
    }, function () {
      setReachable(false);
      showError('Nothing was undone: the node cannot be reached. Try again when it answers.');
    }).finally(function () { btn.disabled = !taking; });
  });

  // Start -----------------------------------------------------------------------------------------------------
  window.addEventListener('online', function () {
    renderStatus();
    flush();
    if (!stream || stream.readyState !== EventSource.OPEN) connect();
  });
  window.addEventListener('offline', renderStatus);
  setInterval(function () {
    if (!flushing && loadQueue().length) flush();
  }, retryEveryMs);

  $('refused-clear').addEventListener('click', function () {
    try { localStorage.removeItem(refusedKey); } catch (e) { /* nothing kept */ }
    renderRefused([]);
  });

  syncGiftAid();
  showTierWarning();
  applyStanding(meta('whipround-standing'));
  renderRefused();
  renderQueue();
  renderStatus();
  connect();
  flush();
})();
