// The OMS console: a single page over the operator API (/api/v1), in zh-CN and en.
// Views are routed by the URL's hash (#/orders?phone=…), so a search survives a reload
// and a language switch simply draws the current view again.
import { barChart } from "./charts.js";

const API = "/api/v1";
const LANG_KEY = "oms.console.lang";
const TOKEN_KEY = "oms.console.token";
const LANGS = ["zh-CN", "en"];
const STATUSES = [
  "pending", "pre_order", "on_hold", "confirmed", "allocated", "partially_shipped",
  "shipped", "delivered", "completed", "cancelled", "rejected", "returned_to_sender",
];
const CHANNELS = ["web", "tmall", "jd", "pos", "pdd", "douyin"];
const ACTIONS = ["cancel", "hold", "release", "approve", "reject", "edit", "refund", "return"];
// Statuses in which an action makes sense; the engine still has the last word (it
// refuses with a reason), this only spares an operator a button that cannot work.
const ACTION_STATUSES = {
  cancel: ["pending", "pre_order", "on_hold", "confirmed", "allocated"],
  hold: ["pending", "pre_order", "confirmed"],
  release: ["on_hold"],
  approve: ["on_hold"],
  reject: ["on_hold"],
  edit: ["pending", "pre_order", "on_hold", "confirmed"],
  refund: ["confirmed", "allocated", "partially_shipped", "shipped", "delivered", "completed", "cancelled", "returned_to_sender"],
  return: ["partially_shipped", "shipped", "delivered", "completed"],
};
const POLL_MS = 500;
const SLOW_MS = 15000; // "still pending" is said after this
const COMMAND_WAIT_MS = 180000; // and the page stops following the command after this
const STATUS_WAIT_MS = 30000; // an applied command's order redrawn once its view shows it

const state = { lang: "en", messages: {}, token: sessionStorage.getItem(TOKEN_KEY), me: null };
const view = () => document.getElementById("view");

// ---- text ---------------------------------------------------------------------

function pickLang() {
  const saved = localStorage.getItem(LANG_KEY);
  if (LANGS.includes(saved)) return saved;
  return (navigator.language || "").toLowerCase().startsWith("zh") ? "zh-CN" : "en";
}

/** The message `key` in the current language, {name} placeholders filled from `params`. */
function t(key, params = {}) {
  const text = state.messages[state.lang]?.[key] ?? state.messages.en?.[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(params[name] ?? ""));
}

/** A value's label when the messages have one (status.shipped), else the value itself. */
function label(prefix, value) {
  const key = `${prefix}.${value}`;
  return state.messages[state.lang]?.[key] ? t(key) : String(value ?? "");
}

function translateStatic(root = document) {
  document.documentElement.lang = state.lang;
  document.title = t("app.title");
  root.querySelectorAll("[data-i18n]").forEach((node) => {
    node.textContent = t(node.dataset.i18n);
  });
}

function setLang(lang) {
  state.lang = lang;
  localStorage.setItem(LANG_KEY, lang);
  translateStatic();
  route();
}

// ---- DOM ----------------------------------------------------------------------

/** An element with attributes and children; text is always set as text, never as HTML. */
function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function show(...nodes) {
  view().replaceChildren(...nodes);
}

let toastTimer;
function toast(text, bad = false) {
  const box = document.getElementById("toast");
  box.textContent = text;
  box.className = bad ? "toast bad" : "toast";
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { box.hidden = true; }, 5000);
}

/** Digits after the point of `currency` (ISO 4217, as the browser knows it): 2 for CNY, 0 for JPY. */
function minorDigits(currency) {
  try {
    return new Intl.NumberFormat("en", { style: "currency", currency: currency || "CNY" }).resolvedOptions().maximumFractionDigits;
  } catch {
    return 2;
  }
}

function money(minor, currency) {
  if (minor === undefined || minor === null) return "";
  try {
    const format = new Intl.NumberFormat(state.lang, { style: "currency", currency: currency || "CNY" });
    return format.format(minor / 10 ** minorDigits(currency));
  } catch {
    return `${minor} ${currency ?? ""}`;
  }
}

function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return new Intl.DateTimeFormat(state.lang, { dateStyle: "medium", timeStyle: "short" }).format(date);
}

function badge(status) {
  return h("span", { class: `badge ${status}`, "data-status": status }, label("status", status));
}

/** A table that turns into cards on a phone: `cols` are [message key, cell function, class]. */
function table(rows, cols, onRow) {
  return h(
    "table",
    { class: "cards" },
    h("thead", {}, h("tr", {}, cols.map(([key, , cls]) => h("th", { class: cls }, t(key))))),
    h(
      "tbody",
      {},
      rows.map((row) =>
        h(
          "tr",
          onRow ? { class: "row-link", tabindex: 0, onclick: () => onRow(row), onkeydown: (e) => e.key === "Enter" && onRow(row) } : {},
          cols.map(([key, cell, cls]) => h("td", { class: cls, "data-label": t(key) }, cell(row))),
        ),
      ),
    ),
  );
}

// What an operator reads first in an event's detail; the rest is one click away.
const DETAIL_KEYS = ["reason", "actor", "location", "carrier", "tracking_no", "status", "note", "code", "total", "amount"];
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;

/** A value as a person reads it: money as money, times in the page's language. */
function readable(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "object" && "amount" in value && "currency" in value) return money(value.amount, value.currency);
  if (typeof value === "object") return JSON.stringify(value);
  if (typeof value === "string" && ISO_TIME.test(value)) return when(value);
  return String(value);
}

/** A timeline entry's detail: its telling fields on one line, everything in a fold. */
function detailView(detail) {
  if (!detail) return null;
  if (typeof detail !== "object") return h("div", { class: "detail" }, String(detail));
  const telling = DETAIL_KEYS.filter((k) => detail[k] !== null && detail[k] !== undefined && detail[k] !== "")
    .map((k) => `${label("field", k)}: ${readable(detail[k])}`)
    .join(" · ");
  const rest = Object.keys(detail).length
    ? h("details", {}, h("summary", {}, "…"), h("pre", {}, JSON.stringify(detail, null, 2)))
    : null;
  return h("div", { class: "detail" }, telling, rest);
}

/** Any record the API returns (a shipment, a payment) as a definition list, empty fields left out. */
function record(obj) {
  return h(
    "dl",
    { class: "record" },
    Object.entries(obj)
      .filter(([, v]) => v !== null && v !== undefined && v !== "" && !(Array.isArray(v) && !v.length))
      .flatMap(([k, v]) => [
        h("dt", { title: k }, label("field", k)),
        // Amounts are minor units of the record's currency.
        h("dd", {}, k.endsWith("_minor") && obj.currency ? money(v, obj.currency) : readable(v)),
      ]),
  );
}

/** The rows of a list answer: the answer itself, or its first array-valued field. */
function rowsOf(answer) {
  if (Array.isArray(answer)) return answer;
  const list = Object.values(answer ?? {}).find(Array.isArray);
  return list ?? [];
}

// ---- the API --------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, detail) {
    super(`${status}: ${detail}`);
    this.status = status;
    this.detail = detail;
  }
}

async function api(path, { method = "GET", json, form } = {}) {
  const headers = { Accept: "application/json" };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = new URLSearchParams(form);
  }
  let answer;
  try {
    answer = await fetch(API + path, { method, headers, body });
  } catch {
    throw new ApiError(0, t("error.network"));
  }
  const data = await answer.json().catch(() => ({}));
  if (answer.status === 401 && path !== "/auth/token") {
    signOut(t("login.expired"));
    throw new ApiError(401, t("login.expired"));
  }
  if (!answer.ok) {
    const detail = problemText(data) || answer.statusText;
    throw new ApiError(answer.status, answer.status === 403 ? t("error.forbidden") : detail);
  }
  return data;
}

/** The words of an error answer: FastAPI's detail (a string, {field, message}, or a
 *  list of {loc, msg}), or the intake's Problem (message_en / message_zh). */
function problemText(data) {
  const detail = data?.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) return detail.map((d) => `${(d.loc ?? []).slice(1).join(".")}: ${d.msg}`).join("; ");
  if (detail && typeof detail === "object") return [detail.field, detail.message].filter(Boolean).join(": ");
  return (state.lang === "zh-CN" ? data?.message_zh : data?.message_en) ?? "";
}

function failure(error) {
  if (error instanceof ApiError && error.status && error.status !== 403) {
    return t("error.generic", { status: error.status, detail: error.detail });
  }
  return error.detail ?? String(error);
}

function problem(error) {
  return h("p", { class: "error", role: "alert" }, failure(error));
}

// ---- sign in ------------------------------------------------------------------------

function signOut(message) {
  state.token = null;
  state.me = null;
  sessionStorage.removeItem(TOKEN_KEY);
  document.getElementById("who").textContent = "";
  loginView(message);
}

function loginView(message) {
  document.getElementById("bar").hidden = true;
  const error = h("p", { class: "error", role: "alert", id: "login-error" }, message ?? "");
  const form = h(
    "form",
    { id: "login", onsubmit: async (e) => {
      e.preventDefault();
      const data = new FormData(form);
      try {
        const token = await api("/auth/token", {
          method: "POST",
          form: { grant_type: "password", username: data.get("username"), password: data.get("password") },
        });
        state.token = token.access_token;
        sessionStorage.setItem(TOKEN_KEY, state.token);
        // Back to where the operator was (a link to an order), else the order search.
        const target = location.hash && location.hash !== "#/login" ? location.hash : "#/orders";
        if (location.hash === target) route();
        else location.hash = target;
      } catch (err) {
        error.textContent = err.status === 401 || err.status === 400 ? t("login.failed") : failure(err);
      }
    } },
    h("label", {}, t("login.username"), h("input", { name: "username", autocomplete: "username", required: true })),
    h("label", {}, t("login.password"), h("input", { name: "password", type: "password", autocomplete: "current-password", required: true })),
    h("button", { class: "primary", type: "submit" }, t("login.submit")),
    error,
  );
  show(h("section", { class: "card login" }, h("h1", {}, t("login.title")), form));
}

async function ensureMe() {
  if (state.me) return;
  state.me = await api("/me");
  const name = state.me.username ?? state.me.user ?? state.me.name ?? "";
  const roles = (state.me.roles ?? []).join(", ");
  document.getElementById("who").textContent = roles ? `${name} (${roles})` : name;
}

// ---- orders ---------------------------------------------------------------------------

/** A desk-sized window (the CSS's breakpoint). */
const wide = () => window.matchMedia("(min-width: 720px)").matches;

// A phone number: digits with an optional +, spaces or dashes; anything else is an order
// number (or part of one) and goes to `q`.
const PHONE = /^\+?[\d\s-]{7,}$/;

function ordersView(params) {
  const query = params.get("q") ?? params.get("phone") ?? "";
  const select = (name, values, prefix) =>
    h(
      "select",
      { name },
      h("option", { value: "" }, t("orders.any")),
      values.map((v) => h("option", { value: v, selected: params.get(name) === v }, label(prefix, v))),
    );
  const form = h(
    "form",
    { class: "filters", id: "order-search", onsubmit: (e) => {
      e.preventDefault();
      const data = new FormData(form);
      const next = new URLSearchParams();
      const text = String(data.get("query")).trim();
      // Chinese mobiles are kept as their 11 national digits (intake's normalisation).
      if (PHONE.test(text)) next.set("phone", text.replace(/[\s-]/g, "").replace(/^\+86(?=1\d{10}$)/, ""));
      else if (text) next.set("q", text);
      for (const name of ["status", "channel", "since", "until"]) if (data.get(name)) next.set(name, data.get(name));
      location.hash = `#/orders?${next}`;
    } },
    h("label", {}, t("orders.query"), h("input", { name: "query", value: query, placeholder: t("orders.query.hint"), type: "search", inputmode: "search" })),
    h("button", { class: "primary", type: "submit" }, t("orders.search")),
    // The other filters fold away on a phone (the number or phone is what a caller
    // gives); open on a desk, or when one of them is in use.
    h(
      "details",
      { class: "more", open: wide() || ["status", "channel", "since", "until"].some((k) => params.get(k)) },
      h("summary", {}, t("orders.more")),
      h(
        "div",
        { class: "more-grid" },
        h("label", {}, t("orders.status"), select("status", STATUSES, "status")),
        h("label", {}, t("orders.channel"), select("channel", CHANNELS, "channel")),
        h("label", {}, t("orders.since"), h("input", { name: "since", type: "date", value: params.get("since") ?? "" })),
        h("label", {}, t("orders.until"), h("input", { name: "until", type: "date", value: params.get("until") ?? "" })),
      ),
    ),
  );
  const results = h("div", { id: "order-results" });
  show(h("section", { class: "card" }, h("h1", {}, t("orders.title")), form), results);
  if ([...params.keys()].length) searchOrders(params, results);
}

async function searchOrders(params, results) {
  results.replaceChildren(h("p", { class: "muted" }, t("loading")));
  const query = new URLSearchParams(params);
  query.set("limit", "50");
  // The form's "to" day is inclusive; the API's until is exclusive: the next midnight.
  if (/^\d{4}-\d{2}-\d{2}$/.test(query.get("until") ?? "")) {
    const next = new Date(`${query.get("until")}T00:00:00Z`);
    next.setUTCDate(next.getUTCDate() + 1);
    query.set("until", next.toISOString().slice(0, 10));
  }
  try {
    const { orders } = await api(`/orders?${query}`);
    if (!orders.length) {
      results.replaceChildren(h("p", { class: "card muted" }, t("orders.none")));
      return;
    }
    results.replaceChildren(
      h(
        "section",
        { class: "card" },
        h("p", { class: "muted" }, t("orders.count", { n: orders.length })),
        table(
          orders,
          [
            ["col.order", (o) => h("a", { href: `#/order/${encodeURIComponent(o.order_id)}`, class: "order-link" }, o.order_no ?? o.order_id)],
            ["col.status", (o) => badge(o.status)],
            ["col.channel", (o) => label("channel", o.channel)],
            ["col.customer", (o) => o.customer],
            ["col.phone", (o) => o.phone_masked],
            ["col.total", (o) => money(o.total_minor, o.currency), "num"],
            ["col.placed", (o) => when(o.placed_at)],
          ],
          (o) => { location.hash = `#/order/${encodeURIComponent(o.order_id)}`; },
        ),
      ),
    );
  } catch (err) {
    results.replaceChildren(problem(err));
  }
}

async function orderView(id) {
  show(h("p", { class: "muted" }, t("loading")));
  let detail;
  try {
    detail = await api(`/orders/${encodeURIComponent(id)}`);
  } catch (err) {
    show(h("a", { href: "#/orders" }, t("order.back")), err.status === 404 ? h("p", { class: "error" }, t("order.not_found")) : problem(err));
    return;
  }
  const { order } = detail;
  const lines = order.lines ?? [];
  const section = (key, items, draw) =>
    h("section", { class: "card", id: `order-${key}` }, h("h2", {}, t(`order.${key}`)), items?.length ? draw(items) : h("p", { class: "muted" }, t("order.empty")));
  show(
    h("p", {}, h("a", { href: "#/orders" }, `← ${t("order.back")}`)),
    h(
      "section",
      { class: "card", id: "order-head", "data-order-id": order.order_id },
      h("h1", {}, order.order_no ?? order.order_id, " ", badge(order.status)),
      h(
        "dl",
        { class: "summary" },
        [
          ["col.channel", label("channel", order.channel)],
          ["col.customer", order.customer],
          ["col.phone", order.phone_masked],
          ["col.total", money(order.total_minor, order.currency)],
          ["col.placed", when(order.placed_at)],
        ].map(([key, value]) => h("div", {}, h("dt", {}, t(key)), h("dd", {}, value ?? ""))),
      ),
      h("h2", {}, t("order.actions")),
      h(
        "div",
        { class: "actions", id: "order-actions" },
        ACTIONS.map((action) =>
          h(
            "button",
            {
              type: "button",
              class: action === "cancel" || action === "reject" ? "action danger" : "action",
              "data-action": action,
              disabled: !ACTION_STATUSES[action].includes(order.status),
              onclick: () => actionDialog(order, action),
            },
            t(`action.${action}`),
          ),
        ),
      ),
    ),
    h(
      "div",
      { class: "grid2" },
      section("timeline", detail.timeline, (events) =>
        h(
          "ol",
          { class: "timeline" },
          events.map((e) =>
            h("li", { "data-event": e.event }, h("span", { class: "event", title: e.event }, label("event", e.event)), h("time", { datetime: e.at }, when(e.at)), detailView(e.detail)),
          ),
        ),
      ),
      h(
        "div",
        {},
        section("lines", lines, (rows) =>
          table(rows, [
            ["col.line", (l) => l.line_no],
            ["col.sku", (l) => l.sku],
            ["col.quantity", (l) => l.quantity, "num"],
            ["col.price", (l) => money(l.unit_price_minor, order.currency), "num"],
            ["col.location", (l) => l.location ?? ""],
          ]),
        ),
        section("shipments", detail.shipments, (rows) => rows.map(record)),
        section("payments", detail.payments, (rows) => rows.map(record)),
        section("returns", detail.returns, (rows) => rows.map(record)),
      ),
    ),
  );
}

// ---- acting on an order ---------------------------------------------------------------

/** A quantity input per line: units to give back (0 to all), or, for an edit, the
 *  line's new quantity (starting at the current one). */
function lineInputs(lines, name, edit = false) {
  return h(
    "fieldset",
    {},
    h("legend", {}, t(edit ? "action.edit.quantities" : "action.lines")),
    lines.map((l) =>
      h(
        "label",
        {},
        edit ? `#${l.line_no} ${l.sku}` : `#${l.line_no} ${l.sku} (≤ ${l.quantity})`,
        h("input", { type: "number", min: 0, max: edit ? undefined : l.quantity, value: edit ? l.quantity : 0, name: `${name}-${l.line_no}`, "data-line": l.line_no }),
      ),
    ),
  );
}

/** The body the API takes for `action`, read from the dialog's form; null if nothing chosen. */
function actionBody(action, form, order) {
  const lines = order.lines ?? [];
  const data = new FormData(form);
  const reason = String(data.get("reason") ?? "").trim();
  const chosen = () =>
    lines
      .map((l) => ({ line_no: l.line_no, quantity: Number(data.get(`qty-${l.line_no}`) || 0) }))
      .filter((l) => l.quantity > 0);
  switch (action) {
    case "edit": {
      // A line's quantity changed: a new quantity; set to 0: the line removed.
      const quantities = [];
      const remove = [];
      for (const l of lines) {
        const now = Number(data.get(`qty-${l.line_no}`));
        if (now === l.quantity || Number.isNaN(now)) continue;
        if (now === 0) remove.push(l.line_no);
        else quantities.push({ line_no: l.line_no, quantity: now });
      }
      const sku = String(data.get("add_sku") ?? "").trim();
      const add = sku
        ? [{ sku, quantity: Number(data.get("add_quantity") || 1), unit_price_minor: Math.round(Number(data.get("add_price") || 0) * 10 ** minorDigits(order.currency)) }]
        : [];
      return add.length || remove.length || quantities.length ? { add, remove, quantities, reason } : null;
    }
    case "refund": {
      const picked = chosen();
      return picked.length || data.get("shipping") ? { lines: picked, shipping: Boolean(data.get("shipping")), reason } : null;
    }
    case "return": {
      const picked = chosen();
      return picked.length ? { lines: picked, refund_only: Boolean(data.get("refund_only")), reason } : null;
    }
    default:
      return { reason };
  }
}

function actionDialog(order, action) {
  const dialog = document.getElementById("dialog");
  const lines = order.lines ?? [];
  const needsReason = ["cancel", "hold", "reject", "refund", "return"].includes(action);
  const error = h("p", { class: "error", role: "alert" });
  const extra = {
    edit: [
      lineInputs(lines, "qty", true),
      h("label", {}, t("action.edit.add_sku"), h("input", { name: "add_sku" })),
      h("label", {}, t("action.edit.add_quantity"), h("input", { name: "add_quantity", type: "number", min: 1, value: 1 })),
      h("label", {}, t("action.edit.add_price"), h("input", { name: "add_price", type: "number", min: 0, step: "0.01", inputmode: "decimal" })),
    ],
    refund: [lineInputs(lines, "qty"), h("label", { class: "check" }, h("input", { type: "checkbox", name: "shipping", value: "1" }), t("action.shipping"))],
    return: [lineInputs(lines, "qty"), h("label", { class: "check" }, h("input", { type: "checkbox", name: "refund_only", value: "1" }), t("action.refund_only"))],
  }[action] ?? [];
  const form = h(
    "form",
    { id: "action-form", "data-action": action, onsubmit: async (e) => {
      e.preventDefault();
      const body = actionBody(action, form, order);
      if (!body) { error.textContent = t("action.nothing"); return; }
      if (needsReason && !body.reason) { error.textContent = t("action.reason.required"); return; }
      const send = form.querySelector("button[type=submit]");
      send.disabled = true;
      try {
        const { command_id } = await api(`/orders/${encodeURIComponent(order.order_id)}/${action}`, { method: "POST", json: body });
        dialog.close();
        followCommand(command_id, order, action);
      } catch (err) {
        error.textContent = failure(err);
        send.disabled = false;
      }
    } },
    h("h2", {}, `${t(`action.${action}`)} · ${order.order_no ?? order.order_id}`),
    extra,
    h("label", {}, t("action.reason"), h("textarea", { name: "reason", rows: 2, required: needsReason })),
    error,
    h(
      "div",
      { class: "actions" },
      h("button", { class: "primary", type: "submit" }, t("action.confirm")),
      h("button", { class: "action", type: "button", onclick: () => dialog.close() }, t("action.close")),
    ),
  );
  dialog.replaceChildren(form);
  dialog.showModal();
}

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

/** Poll the command until the engine applied or refused it; then redraw the order
 *  once its projection shows the outcome (the read side trails the engine a little).
 *  The server watches a command for a while only (api.command_wait_s): on a slow day
 *  the order's own status is read too, and a change redraws the page all the same. */
async function followCommand(commandId, order, action) {
  toast(t("command.pending"));
  const started = Date.now();
  let warned = false;
  for (let round = 0; Date.now() - started < COMMAND_WAIT_MS; round += 1) {
    let outcome;
    try {
      outcome = await api(`/commands/${encodeURIComponent(commandId)}`);
    } catch (err) {
      if (err.status !== 404) { toast(failure(err), true); return; }
      outcome = { status: "pending" };
    }
    if (outcome.status === "rejected") {
      toast(t("command.rejected", { reason: outcome.reason ?? "" }), true);
      return;
    }
    if (outcome.status === "applied") {
      toast(t("command.applied", { action: t(`action.${action}`) }));
      await redrawWhenChanged(order, Date.now() + STATUS_WAIT_MS);
      return;
    }
    if (round % 4 === 3 && (await statusChanged(order))) {
      toast(t("command.applied", { action: t(`action.${action}`) }));
      redraw(order);
      return;
    }
    if (!warned && Date.now() - started > SLOW_MS) {
      warned = true;
      toast(t("command.timeout"));
    }
    await sleep(POLL_MS);
  }
  toast(t("command.timeout"));
}

async function statusChanged(order) {
  try {
    const { order: now } = await api(`/orders/${encodeURIComponent(order.order_id)}`);
    return now.status !== order.status;
  } catch {
    return false;
  }
}

function redraw(order) {
  // Only if the operator is still looking at this order.
  if (location.hash === `#/order/${encodeURIComponent(order.order_id)}`) route();
}

async function redrawWhenChanged(order, deadline) {
  while (Date.now() < deadline && !(await statusChanged(order))) await sleep(POLL_MS);
  redraw(order);
}

// ---- exceptions ---------------------------------------------------------------------

async function exceptionsView() {
  show(h("p", { class: "muted" }, t("loading")));
  let items;
  try {
    items = rowsOf(await api("/exceptions"));
  } catch (err) {
    show(problem(err));
    return;
  }
  const orderLink = (x) =>
    x.order_id ? h("a", { href: `#/order/${encodeURIComponent(x.order_id)}` }, x.order_no ?? x.order_id) : x.order_no ?? "";
  show(
    h(
      "section",
      { class: "card", id: "exceptions" },
      h("h1", {}, t("exceptions.title")),
      items.length
        ? table(items, [
          ["col.kind", (x) => h("span", { title: x.kind }, label("kind", x.kind))],
          ["col.order", orderLink],
          ["col.reason", (x) => (state.lang === "zh-CN" ? x.message_zh : null) ?? x.message ?? x.code ?? ""],
          ["col.opened", (x) => when(x.occurred_at)],
          ["order.actions", (x) => h(
            "div",
            { class: "actions" },
            h("button", { type: "button", class: "action", "data-close": "resolve", onclick: () => closeException(x, "resolve") }, t("exceptions.resolve")),
            // A dead letter whose input can go back to its topic once the cause is fixed.
            x.redrivable ? h("button", { type: "button", class: "action", "data-close": "redrive", onclick: () => closeException(x, "redrive") }, t("exceptions.redrive")) : null,
          )],
        ])
        : h("p", { class: "muted" }, t("exceptions.none")),
    ),
  );
}

/** Close an exception (resolve it, or re-drive a dead letter) with a note of what was done. */
function closeException(item, how) {
  const dialog = document.getElementById("dialog");
  const error = h("p", { class: "error", role: "alert" });
  const form = h(
    "form",
    { id: "close-form", onsubmit: async (e) => {
      e.preventDefault();
      const note = String(new FormData(form).get("note") ?? "").trim();
      const send = form.querySelector("button[type=submit]");
      send.disabled = true;
      const path = how === "redrive"
        ? `/deadletters/${encodeURIComponent(item.id)}/redrive`
        : `/exceptions/${encodeURIComponent(item.id)}/resolve`;
      try {
        await api(path, { method: "POST", json: { note } });
        dialog.close();
        toast(t(how === "redrive" ? "exceptions.redriven" : "exceptions.resolved"));
        exceptionsView();
      } catch (err) {
        error.textContent = failure(err);
        send.disabled = false;
      }
    } },
    h("h2", {}, `${t(how === "redrive" ? "exceptions.redrive" : "exceptions.resolve")} · ${label("kind", item.kind)}`),
    h("p", { class: "muted" }, item.order_no ?? item.order_id ?? "", " ", item.message ?? ""),
    h("label", {}, t("exceptions.note"), h("textarea", { name: "note", rows: 2 })),
    error,
    h(
      "div",
      { class: "actions" },
      h("button", { class: "primary", type: "submit" }, t("action.confirm")),
      h("button", { class: "action", type: "button", onclick: () => dialog.close() }, t("action.close")),
    ),
  );
  dialog.replaceChildren(form);
  dialog.showModal();
}

// ---- stock ----------------------------------------------------------------------------

const LEVEL_COLUMNS = [
  ["col.location", (s) => s.location],
  ["col.on_hand", (s) => s.on_hand, "num"],
  ["col.reserved", (s) => s.reserved, "num"],
  ["col.available", (s) => s.available, "num"],
  ["col.in_transit", (s) => s.in_transit, "num"],
  ["col.threshold", (s) => s.low_stock_threshold, "num"],
];
const LOW_COLUMNS = [
  ["col.sku", (s) => h("a", { href: `#/stock?${new URLSearchParams({ sku: s.sku })}` }, s.sku)],
  ["col.location", (s) => s.location],
  ["col.available", (s) => s.available, "num"],
  ["col.in_transit", (s) => s.in_transit, "num"],
  ["col.threshold", (s) => s.low_stock_threshold, "num"],
  ["col.low_since", (s) => when(s.low_since)],
];

/** One sku: its available-to-promise (what a channel may still sell) over its locations. */
function skuStock(item) {
  return h(
    "div",
    { class: "sku-stock", "data-sku": item.sku },
    h("h2", {}, item.sku, " · ", t("stock.atp", { n: item.available_to_promise })),
    table(item.locations ?? [], LEVEL_COLUMNS),
  );
}

async function stockView(params) {
  const sku = params.get("sku") ?? "";
  const form = h(
    "form",
    { class: "filters", id: "stock-search", onsubmit: (e) => {
      e.preventDefault();
      const value = String(new FormData(form).get("sku")).trim();
      location.hash = `#/stock?${new URLSearchParams(value ? { sku: value } : {})}`;
    } },
    h("label", {}, t("stock.sku"), h("input", { name: "sku", value: sku, type: "search" })),
    h("button", { class: "primary", type: "submit" }, t("stock.lookup")),
  );
  const levels = h("div", { id: "stock-levels" });
  const low = h("section", { class: "card", id: "stock-low" }, h("h2", {}, t("stock.low")), h("p", { class: "muted" }, t("loading")));
  show(h("section", { class: "card" }, h("h1", {}, t("stock.title")), form, levels), low);
  if (sku) {
    try {
      const items = rowsOf(await api(`/stock?${new URLSearchParams({ sku })}`));
      levels.replaceChildren(...(items.length ? items.map(skuStock) : [h("p", { class: "muted" }, t("stock.none"))]));
    } catch (err) {
      levels.replaceChildren(problem(err));
    }
  }
  try {
    const rows = rowsOf(await api("/stock/low"));
    low.replaceChildren(h("h2", {}, t("stock.low")), rows.length ? table(rows, LOW_COLUMNS) : h("p", { class: "muted" }, t("stock.low.none")));
  } catch (err) {
    low.replaceChildren(h("h2", {}, t("stock.low")), problem(err));
  }
}

// ---- dashboard ------------------------------------------------------------------------

async function dashboardView() {
  show(h("p", { class: "muted" }, t("loading")));
  let data;
  try {
    data = await api("/dashboard");
  } catch (err) {
    show(problem(err));
    return;
  }
  // Every channel, with or without orders today, so the chart keeps its shape all day.
  const today = data.orders_per_channel_today ?? {};
  const perChannel = [...new Set([...CHANNELS, ...Object.keys(today)])]
    .map((channel) => ({ label: label("channel", channel), value: Number(today[channel] ?? 0) }));
  const hours = data.fulfilment_hours ?? {};
  const fulfilment = ["p50", "p90"]
    .filter((k) => hours[k] !== null && hours[k] !== undefined)
    .map((k) => ({ label: k.toUpperCase(), value: Number(hours[k]) }));
  const byKind = h("div", { id: "dash-kinds" });
  show(
    h("h1", {}, t("dash.title"), " ", h("button", { type: "button", class: "action", onclick: () => dashboardView() }, t("dash.refresh"))),
    h(
      "div",
      { class: "grid3" },
      h("section", { class: "card", id: "dash-channels" }, h("h2", {}, t("dash.per_channel")),
        perChannel.some((r) => r.value > 0) ? barChart(perChannel, { title: t("dash.per_channel") }) : h("p", { class: "muted" }, t("dash.no_orders"))),
      h("section", { class: "card", id: "dash-fulfilment" }, h("h2", {}, t("dash.fulfilment")),
        fulfilment.length ? barChart(fulfilment, { title: t("dash.fulfilment"), format: (v) => `${v.toFixed(1)} h` }) : h("p", { class: "muted" }, t("dash.no_fulfilment"))),
      h("section", { class: "card", id: "dash-exceptions" }, h("h2", {}, t("dash.exceptions")),
        h("a", { class: "tile", href: "#/exceptions" }, String(data.exceptions_open ?? 0)), byKind),
    ),
  );
  // The inbox by kind, when this role may read it: the tile alone says how many, not what.
  try {
    const kinds = {};
    for (const x of rowsOf(await api("/exceptions"))) kinds[x.kind] = (kinds[x.kind] ?? 0) + 1;
    const rows = Object.entries(kinds).sort((a, b) => b[1] - a[1]).map(([kind, value]) => ({ label: label("kind", kind), value }));
    if (rows.length) byKind.replaceChildren(h("h2", {}, t("dash.by_kind")), barChart(rows, { title: t("dash.by_kind") }));
  } catch {
    // A role without the inbox still sees the count.
  }
}

// ---- routing --------------------------------------------------------------------------

async function route() {
  const [path, query = ""] = location.hash.replace(/^#/, "").split("?");
  const params = new URLSearchParams(query);
  const parts = path.split("/").filter(Boolean);
  if (!state.token || parts[0] === "login") {
    if (state.token) { location.hash = "#/orders"; return; }
    loginView();
    return;
  }
  document.getElementById("bar").hidden = false;
  try {
    await ensureMe();
  } catch {
    return; // signed out by api() on 401; anything else shows on the view's own call
  }
  const section = parts[0] === "order" ? "orders" : parts[0] || "orders";
  document.querySelectorAll(".nav a").forEach((a) => a.classList.toggle("active", a.dataset.route === section));
  switch (parts[0]) {
    case "order": return orderView(decodeURIComponent(parts[1] ?? ""));
    case "exceptions": return exceptionsView();
    case "stock": return stockView(params);
    case "dashboard": return dashboardView();
    default: return ordersView(params);
  }
}

async function start() {
  state.messages = await (await fetch("i18n.json")).json();
  state.lang = pickLang();
  translateStatic();
  document.getElementById("lang").addEventListener("click", () => setLang(state.lang === "en" ? "zh-CN" : "en"));
  document.getElementById("logout").addEventListener("click", () => signOut());
  window.addEventListener("hashchange", route);
  route();
}

start();
