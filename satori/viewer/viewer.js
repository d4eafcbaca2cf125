// The trajectory viewer's page logic: filters, side-by-side pairs and paging over the embedded data.
// Model text only ever reaches the page through textContent / createTextNode, never as markup.
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("data").textContent);
  var samples = DATA.samples, sources = DATA.sources, texts = DATA.texts, groupKeys = DATA.groupKeys;
  var ACTION_RE = /<\|(continue|reflect|explore)\|>/g;
  var $ = function (id) { return document.getElementById(id); };
  var state = { page: 0, visible: [] };

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function option(select, value, label) {
    var node = el("option", null, label);
    node.value = value;
    select.appendChild(node);
  }

  // ------------------------------------------------------------------ controls
  function setup() {
    sources.forEach(function (source, i) {
      var label = source.name + " (" + source.kind + ")";
      option($("f-source"), String(i), label);
      option($("left"), String(i), label);
      option($("right"), String(i), label);
    });
    $("left").value = "0";
    $("right").value = String(sources.length - 1);
    groupKeys.forEach(function (key, k) {
      var values = {};
      samples.forEach(function (s) { if (s.g[k] !== null) values[s.g[k]] = true; });
      var names = Object.keys(values).sort(function (a, b) {
        return isNaN(a) || isNaN(b) ? a.localeCompare(b) : Number(a) - Number(b);
      });
      var label = el("label", null, key + " ");
      var select = el("select", "group");
      select.id = "g-" + key;
      select.dataset.key = String(k);
      option(select, "", "any");
      names.forEach(function (name) { option(select, name, name); });
      label.appendChild(select);
      $("groups").appendChild(label);
    });
    var steps = samples.some(function (s) { return s.step !== null; });
    $("step-filter").hidden = !steps;
    var pairable = sources.length > 1 && samples.some(function (s) { return s.k !== null; });
    $("mode").disabled = !pairable;
    if (pairable) $("mode").value = "compare";
    var controls = document.querySelectorAll("#controls select, #controls input");
    Array.prototype.forEach.call(controls, function (node) {
      node.addEventListener(node.tagName === "INPUT" ? "input" : "change", function () {
        state.page = 0;
        apply();
      });
    });
    $("prev").addEventListener("click", function () { turn(-1); });
    $("next").addEventListener("click", function () { turn(1); });
    document.addEventListener("keydown", function (event) {
      if (event.target.tagName === "INPUT") return;
      if (event.key === "ArrowLeft") turn(-1);
      if (event.key === "ArrowRight") turn(1);
    });
  }

  function turn(delta) {
    var pages = Math.max(1, Math.ceil(state.visible.length / pageSize()));
    var next = Math.min(pages - 1, Math.max(0, state.page + delta));
    if (next !== state.page) {
      state.page = next;
      render();
      window.scrollTo(0, 0);
    }
  }

  function pageSize() { return Number($("page-size").value); }

  // ------------------------------------------------------------------ filtering
  function filters() {
    var groups = [];
    Array.prototype.forEach.call(document.querySelectorAll("#groups select"), function (select) {
      if (select.value !== "") groups.push([Number(select.dataset.key), select.value]);
    });
    var min = $("f-step-min").value, max = $("f-step-max").value;
    return {
      verdict: $("f-verdict").value, reflect: $("f-reflect").value, explore: $("f-explore").value,
      sc: $("f-sc").value, restart: $("f-restart").value, groups: groups,
      stepMin: min === "" ? null : Number(min), stepMax: max === "" ? null : Number(max),
      text: $("f-text").value.toLowerCase()
    };
  }

  function matches(s, f) {
    if (f.verdict === "correct" && !s.ok) return false;
    if (f.verdict === "incorrect" && s.ok) return false;
    if (f.reflect && (f.reflect === "yes") !== Boolean(s.r)) return false;
    if (f.explore && (f.explore === "yes") !== Boolean(s.e)) return false;
    if (f.sc === "none" ? s.sc !== null : f.sc && s.sc !== f.sc) return false;
    if (f.restart && s.rk !== f.restart) return false;
    for (var i = 0; i < f.groups.length; i++) {
      if (s.g[f.groups[i][0]] !== f.groups[i][1]) return false;
    }
    if (f.stepMin !== null && (s.step === null || s.step < f.stepMin)) return false;
    if (f.stepMax !== null && (s.step === null || s.step > f.stepMax)) return false;
    if (f.text && s.t.toLowerCase().indexOf(f.text) < 0 && s.pre.toLowerCase().indexOf(f.text) < 0) return false;
    return true;
  }

  function compareMode() { return $("mode").value === "compare" && !$("mode").disabled; }

  function apply() {
    var f = filters();
    var compare = compareMode();
    $("list-controls").hidden = compare;
    $("compare-controls").hidden = !compare;
    if (compare) {
      var left = Number($("left").value), right = Number($("right").value);
      var side = $("f-side").value, outcome = $("f-outcome").value;
      var byKey = {};
      samples.forEach(function (s, i) { if (s.s === right && s.k !== null) byKey[s.k] = i; });
      state.visible = [];
      samples.forEach(function (s, i) {
        if (s.s !== left || s.k === null || !(s.k in byKey)) return;
        var other = samples[byKey[s.k]];
        if (outcome && outcome !== (s.ok ? "1" : "0") + (other.ok ? "1" : "0")) return;
        var a = matches(s, f), b = matches(other, f);
        var keep = side === "both" ? a && b : side === "left" ? a : side === "right" ? b : a || b;
        if (keep) state.visible.push([i, byKey[s.k]]);
      });
    } else {
      var only = $("f-source").value;
      state.visible = [];
      samples.forEach(function (s, i) {
        if ((only === "" || s.s === Number(only)) && matches(s, f)) state.visible.push(i);
      });
    }
    render();
  }

  // ------------------------------------------------------------------ rendering
  function percent(part, whole) { return whole ? (100 * part / whole).toFixed(1) + "%" : "–"; }

  function summary() {
    var v = state.visible, n = v.length;
    if (compareMode()) {
      var left = 0, right = 0;
      v.forEach(function (p) { left += samples[p[0]].ok ? 1 : 0; right += samples[p[1]].ok ? 1 : 0; });
      return n + " pairs · correct: " + sources[Number($("left").value)].name + " " + percent(left, n) + ", " +
        sources[Number($("right").value)].name + " " + percent(right, n);
    }
    var ok = 0;
    v.forEach(function (i) { ok += samples[i].ok ? 1 : 0; });
    return n + " of " + samples.length + " trajectories · " + percent(ok, n) + " correct";
  }

  function render() {
    var size = pageSize(), v = state.visible;
    var pages = Math.max(1, Math.ceil(v.length / size));
    state.page = Math.min(state.page, pages - 1);
    var list = $("list");
    list.textContent = "";
    var shown = v.slice(state.page * size, (state.page + 1) * size);
    shown.forEach(function (item) {
      list.appendChild(Array.isArray(item) ? pairCard(item[0], item[1]) : card(item, true));
    });
    if (!shown.length) list.appendChild(el("p", "empty", "No trajectory matches these filters."));
    $("count").textContent = summary();
    $("pageinfo").textContent = "page " + (state.page + 1) + " of " + pages;
    $("prev").disabled = state.page === 0;
    $("next").disabled = state.page >= pages - 1;
    document.body.dataset.visible = String(v.length);
    document.body.dataset.rendered = String(list.querySelectorAll(".traj").length);
    document.body.dataset.ready = "1";
  }

  function badge(text, cls) { return el("span", "badge " + (cls || ""), text); }

  function header(s, withSource) {
    var head = el("div", "head");
    if (withSource) head.appendChild(badge(sources[s.s].name, "source"));
    groupKeys.forEach(function (key, k) { if (s.g[k] !== null) head.appendChild(badge(key + ": " + s.g[k])); });
    head.appendChild(badge("problem " + s.pid));
    if (s.n !== null) head.appendChild(badge("sample " + s.n));
    if (s.step !== null) head.appendChild(badge("step " + s.step));
    if (s.rk !== "plain") head.appendChild(badge("restart " + s.rk, "restart"));
    head.appendChild(badge(s.ok ? "correct" : (s.st || "incorrect"), s.ok ? "ok" : "bad"));
    if (s.sc) head.appendChild(badge(s.sc.replace("->", " → "), "sc"));
    return head;
  }

  function prompt(s) {
    var details = el("details", "prompt");
    var lines = texts[s.q].split("\n").filter(function (line) { return line.trim(); });
    details.appendChild(el("summary", null, lines.length ? lines[lines.length - 1].slice(0, 300) : "(no prompt)"));
    details.appendChild(el("pre", null, texts[s.q]));
    return details;
  }

  // Steps of ``text``, each opened by its coloured action token. Text before the first token
  // continues the step ``lead`` (the restart prefix's trailing <|reflect|>), or stands alone.
  function steps(text, lead) {
    var box = el("div", "steps"), last = 0, match, action = null;
    ACTION_RE.lastIndex = 0;
    var parts = [];
    while ((match = ACTION_RE.exec(text)) !== null) {
      parts.push([action, text.slice(last, match.index)]);
      action = match[1];
      last = match.index + match[0].length;
    }
    parts.push([action, text.slice(last)]);
    parts.forEach(function (part, i) {
      if (i === 0 && part[1] === "") return;
      var name = part[0] || (i === 0 && lead) || "none";
      var step = el("div", "step step-" + name);
      if (part[0]) step.appendChild(el("span", "tok tok-" + name, "<|" + name + "|>"));
      else step.appendChild(el("span", "tok tok-none", lead && i === 0 ? "(continues <|" + lead + "|>)" : "(no action token)"));
      step.appendChild(document.createTextNode(part[1]));
      box.appendChild(step);
    });
    return box;
  }

  function lastAction(text) {
    var found = null, match;
    ACTION_RE.lastIndex = 0;
    while ((match = ACTION_RE.exec(text)) !== null) found = match[1];
    return found;
  }

  function body(s) {
    var box = el("div", "body");
    if (s.pre) {
      var pre = el("div", "prefix");
      var origin = s.rk === "from incorrect" ? "an incorrect" : s.rk === "from correct" ? "a correct" : "an earlier";
      pre.appendChild(el("div", "label", "restart prefix from " + origin + " trajectory, not written by the policy"));
      pre.appendChild(steps(s.pre, null));
      box.appendChild(pre);
    }
    var policy = el("div", "policy");
    if (s.pre) policy.appendChild(el("div", "label", "written by the policy"));
    policy.appendChild(steps(s.t, s.pre ? lastAction(s.pre) : null));
    box.appendChild(policy);
    var foot = el("div", "foot");
    foot.appendChild(el("span", "answer " + (s.ok ? "ok" : "bad"), "answer: " + (s.a === null ? "(none)" : s.a)));
    foot.appendChild(el("span", "gold", "gold: " + s.gold));
    if (s.tok !== null) foot.appendChild(el("span", null, s.tok + " tokens" + (s.fin ? " · " + s.fin : "")));
    if (s.rw) {
      Object.keys(s.rw).forEach(function (term) {
        var value = s.rw[term];
        foot.appendChild(el("span", "reward", term + " " + (typeof value === "number" ? value.toFixed(3) : value)));
      });
    }
    box.appendChild(foot);
    return box;
  }

  function card(i, withSource) {
    var s = samples[i];
    var node = el("div", "traj " + (s.ok ? "is-ok" : "is-bad"));
    node.dataset.index = String(i);
    node.appendChild(header(s, withSource));
    node.appendChild(prompt(s));
    node.appendChild(body(s));
    return node;
  }

  function pairCard(i, j) {
    var node = el("div", "pair");
    var left = samples[i], right = samples[j];
    node.appendChild(prompt(left));
    var columns = el("div", "columns");
    [left, right].forEach(function (s, side) {
      var column = el("div", "traj " + (s.ok ? "is-ok" : "is-bad"));
      column.dataset.index = String(side ? j : i);
      column.appendChild(header(s, true));
      column.appendChild(body(s));
      columns.appendChild(column);
    });
    node.appendChild(columns);
    return node;
  }

  setup();
  apply();
})();
