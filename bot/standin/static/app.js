/* Linli sandbox chat page: a small Telegram-like client for the local Bot API stand-in.
 * Plain browser JavaScript, no build step, no external resources. Talks to /_control/* (same origin).
 */
(function () {
  'use strict';

  // ---------------------------------------------------------------- i18n
  const I18N = {
    zh: {
      app_title: '邻里沙盒',
      who_are_you: '你是谁',
      choose_chat: '选择聊天',
      input_placeholder: '输入消息…',
      send: '发送',
      upload_photo: '上传图片',
      upload_voice: '发送语音',
      commands_menu: '命令菜单',
      no_commands: '没有可用的命令',
      start_private: '与机器人私聊',
      new_user_placeholder: '新住户的名字',
      new_user_create: '成为新住户',
      private_with_bot: '与机器人私聊',
      pinned_message: '置顶消息',
      no_users: '（还没有用户）',
      no_user_hint: '先选择你是谁，或者创建一个新住户。',
      pick_user_first: '请先选择你是谁',
      no_messages: '还没有消息。',
      private_empty: '这是你和机器人的私聊。点“开始”或发送 /start 打招呼。',
      start_button: '开始',
      members: (n) => `${n} 位成员`,
      group: '群组',
      supergroup: '超级群组',
      private: '私聊',
      bot: '机器人',
      bot_status: (s) => `机器人：${({ administrator: '管理员', creator: '群主', member: '成员', left: '已离开', kicked: '已被移出', restricted: '受限' })[s] || s}`,
      not_created_yet: '尚未开始',
      edited: '已编辑',
      deleted: '此消息已被删除',
      pinned: '已置顶',
      today: '今天',
      yesterday: '昨天',
      photo: '图片',
      document: '文件',
      voice: '语音',
      poll: '投票',
      anonymous_poll: '匿名投票',
      public_poll: '公开投票',
      quiz: '测验',
      multiple: '可多选',
      closed: '已结束',
      votes: (n) => `${n} 票`,
      vote: '投票',
      retract: '撤回投票',
      react: '回应',
      user_created: (n) => `欢迎你，${n}！`,
      enter_name: '请输入名字',
      sent_photo: '图片已发送',
      unsupported_button: '沙盒里不支持这种按钮',
      copied: '已复制',
      startgroup_hint: '沙盒中请直接在群里使用机器人',
      network_lost: '与沙盒服务器的连接中断，正在重试…',
      live: '实时更新',
      polling: '轮询更新（每秒）',
      offline: '连接中断',
      unknown_chat: (id) => `聊天 #${id}`,
      not_member: '（你不在此群）',
      ok: '好的',
      svc_joined: (a) => `${a} 加入了群组`,
      svc_added: (a, b) => `${a} 邀请了 ${b}`,
      svc_left: (a) => `${a} 离开了群组`,
      svc_removed: (a, b) => `${a} 将 ${b} 移出了群组`,
      svc_pinned: (a, s) => (s ? `${a} 置顶了「${s}」` : `${a} 置顶了一条消息`),
      svc_title: (a, s) => `${a} 将群名改为「${s}」`,
      svc_created: (a) => `${a} 创建了群组`,
      list_sep: '、',
      clock_title: '沙盒时间（机器人所在的时间，/clock 可以拨动）',
      weekdays: ['周日', '周一', '周二', '周三', '周四', '周五', '周六'],
      clock_label: (y, mo, d, wd, hm) => `${mo}月${d}日 ${wd} ${hm}`,
      open_as: '以谁的身份打开…',
      open_as_title: (link) => `谁来打开这个链接？\n${link}`,
      open_as_pick: '选择',
      cancel: '取消',
    },
    en: {
      app_title: 'Linli sandbox',
      who_are_you: 'Who are you',
      choose_chat: 'Choose chat',
      input_placeholder: 'Write a message…',
      send: 'Send',
      upload_photo: 'Upload photo',
      upload_voice: 'Send voice',
      commands_menu: 'Commands',
      no_commands: 'No commands',
      start_private: 'Chat with bot',
      new_user_placeholder: 'New resident’s name',
      new_user_create: 'Create',
      private_with_bot: 'Private chat with bot',
      pinned_message: 'Pinned message',
      no_users: '(no users yet)',
      no_user_hint: 'Pick who you are, or create a new resident.',
      pick_user_first: 'Pick who you are first',
      no_messages: 'No messages yet.',
      private_empty: 'This is your private chat with the bot. Tap “Start” or send /start.',
      start_button: 'Start',
      members: (n) => `${n} member${n === 1 ? '' : 's'}`,
      group: 'group',
      supergroup: 'supergroup',
      private: 'private',
      bot: 'bot',
      bot_status: (s) => `bot: ${s}`,
      not_created_yet: 'not started yet',
      edited: 'edited',
      deleted: 'This message was deleted',
      pinned: 'pinned',
      today: 'Today',
      yesterday: 'Yesterday',
      photo: 'Photo',
      document: 'File',
      voice: 'Voice message',
      poll: 'Poll',
      anonymous_poll: 'Anonymous poll',
      public_poll: 'Public poll',
      quiz: 'Quiz',
      multiple: 'multiple answers',
      closed: 'closed',
      votes: (n) => `${n} vote${n === 1 ? '' : 's'}`,
      vote: 'Vote',
      retract: 'Retract vote',
      react: 'React',
      user_created: (n) => `Welcome, ${n}!`,
      enter_name: 'Please enter a name',
      sent_photo: 'Photo sent',
      unsupported_button: 'This button type is not supported in the sandbox',
      copied: 'Copied',
      startgroup_hint: 'In the sandbox, use the bot directly in the group',
      network_lost: 'Lost connection to the sandbox server, retrying…',
      live: 'live updates',
      polling: 'polling every second',
      offline: 'disconnected',
      unknown_chat: (id) => `Chat #${id}`,
      not_member: '(not a member)',
      ok: 'OK',
      svc_joined: (a) => `${a} joined the group`,
      svc_added: (a, b) => `${a} added ${b}`,
      svc_left: (a) => `${a} left the group`,
      svc_removed: (a, b) => `${a} removed ${b}`,
      svc_pinned: (a, s) => (s ? `${a} pinned “${s}”` : `${a} pinned a message`),
      svc_title: (a, s) => `${a} changed the group name to “${s}”`,
      svc_created: (a) => `${a} created the group`,
      list_sep: ', ',
      clock_title: 'Sandbox time (the time the bot lives in; /clock moves it)',
      weekdays: ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'],
      clock_label: (y, mo, d, wd, hm) => `${wd} ${y}-${pad2(mo)}-${pad2(d)} ${hm}`,
      open_as: 'Open as…',
      open_as_title: (link) => `Who follows this link?\n${link}`,
      open_as_pick: 'Choose',
      cancel: 'Cancel',
    },
  };

  const LS = {
    lang: 'linli.sandbox.lang',
    user: 'linli.sandbox.user',
    chat: 'linli.sandbox.chat',
    chatOf: (uid) => `linli.sandbox.chat.${uid}`,
    votes: 'linli.sandbox.votes',
  };
  const PRIVATE_NEW = 'private'; // chat key of a private chat with the bot that does not exist yet
  const REACTIONS = ['👍', '❤', '🎉'];

  function lsGet(k) { try { return localStorage.getItem(k); } catch (e) { return null; } }
  function lsSet(k, v) { try { if (v == null) localStorage.removeItem(k); else localStorage.setItem(k, String(v)); } catch (e) { /* ignore */ } }

  const state = {
    lang: lsGet(LS.lang) === 'en' ? 'en' : 'zh',
    users: [],
    chats: [],
    bots: [],
    userId: null,
    chatKey: null, // String(chat id) or PRIVATE_NEW or null
    chatId: null, // number (or string id) when a real chat is open
    messages: new Map(), // message_id -> message
    cursor: 0,
    waitCursor: null,
    gen: 0,
    fetching: null,
    fetchAgain: false,
    conn: 'live',
    votes: (() => { try { return JSON.parse(lsGet(LS.votes) || '{}') || {}; } catch (e) { return {}; } })(),
    pollPicks: new Map(), // poll id -> Set of option indexes (multi-answer polls, before submit)
  };

  function t(key, ...args) {
    const v = (I18N[state.lang] && I18N[state.lang][key]) ?? I18N.zh[key] ?? key;
    return typeof v === 'function' ? v(...args) : v;
  }

  // ---------------------------------------------------------------- DOM helpers
  const $ = (id) => document.getElementById(id);
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v == null || v === false) continue;
        if (k === 'class') node.className = v;
        else if (k === 'text') node.textContent = v;
        else if (k === 'testid') node.setAttribute('data-testid', v);
        else if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
        else node.setAttribute(k, v === true ? '' : String(v));
      }
    }
    for (const c of children) {
      if (c == null || c === false) continue;
      node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    }
    return node;
  }
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const sameId = (a, b) => a != null && b != null && String(a) === String(b);
  const pad2 = (n) => String(n).padStart(2, '0');

  // ---------------------------------------------------------------- the sandbox clock
  // Messages are stamped, and the header shows the time, by the stand-in's clock: in the sandbox the bot's
  // clock (it moves with /clock), shown in the community's time zone (GET /_control/clock).
  const clock = { now: null, at: 0, tz: null };
  function setClock(c) {
    if (!c || typeof c.now !== 'number') return;
    const before = clock.now == null ? null : dayKey(nowSeconds());
    clock.now = c.now;
    clock.at = Date.now();
    clock.tz = c.timezone || null;
    renderClock();
    if (before != null && before !== dayKey(nowSeconds())) refreshDividers(); // "today" moved
  }
  function nowSeconds() {
    return clock.now == null ? Date.now() / 1000 : clock.now + (Date.now() - clock.at) / 1000;
  }
  /** {y, mo, d, wd, h, mi} of a unix time, in the sandbox's time zone (the browser's when it has none). */
  function parts(unix) {
    const d = new Date(unix * 1000);
    if (!clock.tz) {
      return { y: d.getFullYear(), mo: d.getMonth() + 1, d: d.getDate(), wd: d.getDay(), h: d.getHours(), mi: d.getMinutes() };
    }
    const f = new Intl.DateTimeFormat('en-US', { timeZone: clock.tz, year: 'numeric', month: 'numeric', day: 'numeric',
      weekday: 'short', hour: 'numeric', minute: 'numeric', hourCycle: 'h23' });
    const p = {};
    f.formatToParts(d).forEach((x) => { p[x.type] = x.value; });
    const wd = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(p.weekday);
    return { y: +p.year, mo: +p.month, d: +p.day, wd, h: +p.hour % 24, mi: +p.minute };
  }
  function renderClock() {
    const node = $('sandbox-clock');
    if (!node || clock.now == null) return;
    const p = parts(nowSeconds());
    node.textContent = `🕘 ${t('clock_label', p.y, p.mo, p.d, I18N[state.lang].weekdays[p.wd], `${pad2(p.h)}:${pad2(p.mi)}`)}`;
    node.title = t('clock_title');
    node.hidden = false;
    node.setAttribute('data-date', `${p.y}-${pad2(p.mo)}-${pad2(p.d)}`);
    node.setAttribute('data-time', `${pad2(p.h)}:${pad2(p.mi)}`);
  }
  async function fetchClock() {
    try { setClock(await api('GET', '/_control/clock')); } catch (e) { /* the wait loop reports the connection */ }
  }

  function fmtTime(unix) {
    if (!unix) return '';
    const p = parts(unix);
    return `${pad2(p.h)}:${pad2(p.mi)}`;
  }
  function dayKey(unix) {
    const p = parts(unix || 0);
    return `${p.y}-${p.mo}-${p.d}`;
  }
  function dayLabel(unix) {
    const p = parts(unix || 0);
    const now = nowSeconds();
    if (dayKey(unix) === dayKey(now)) return t('today');
    if (dayKey(unix) === dayKey(now - 86400)) return t('yesterday');
    return state.lang === 'zh'
      ? `${p.y}年${p.mo}月${p.d}日`
      : new Date(Date.UTC(p.y, p.mo - 1, p.d)).toLocaleDateString('en', { year: 'numeric', month: 'short', day: 'numeric', timeZone: 'UTC' });
  }

  const NAME_COLORS = ['#e17076', '#7bc862', '#e5ca77', '#65aadd', '#a695e7', '#ee7aae', '#6ec9cb', '#faa774'];
  function colorFor(id) {
    const n = Math.abs(parseInt(String(id).replace(/\D/g, '').slice(-6) || '0', 10));
    return NAME_COLORS[n % NAME_COLORS.length];
  }
  function initialOf(name) {
    const s = String(name || '?').trim();
    return s ? Array.from(s)[0].toUpperCase() : '?';
  }
  function userName(u) {
    if (!u) return '?';
    return [u.first_name, u.last_name].filter(Boolean).join(' ') || u.username || `#${u.id}`;
  }

  // ---------------------------------------------------------------- toasts & alert
  function toast(text, kind) {
    const box = $('toasts');
    const node = el('div', { class: `toast${kind === 'error' ? ' toast-error' : ''}`, testid: 'toast', 'data-kind': kind || 'info', role: kind === 'error' ? 'alert' : 'status' }, String(text));
    box.appendChild(node);
    const ms = kind === 'error' ? 5000 : 3000;
    setTimeout(() => { node.classList.add('toast-hide'); setTimeout(() => node.remove(), 250); }, ms);
    node.addEventListener('click', () => node.remove());
  }
  function showError(err) {
    const msg = err && err.message ? err.message : String(err);
    console.error(err);
    toast(msg, 'error');
  }
  function showAlert(text) {
    $('alert-text').textContent = text;
    $('alert-ok').textContent = t('ok');
    $('alert-backdrop').hidden = false;
    $('alert-ok').focus();
  }
  function closeAlert() { $('alert-backdrop').hidden = true; }

  // ---------------------------------------------------------------- HTTP
  async function api(method, path, body, isForm) {
    const opts = { method, headers: { Accept: 'application/json' } };
    if (body !== undefined) {
      if (isForm) opts.body = body;
      else { opts.headers['Content-Type'] = 'application/json'; opts.body = JSON.stringify(body); }
    }
    let res;
    try {
      res = await fetch(path, opts);
    } catch (e) {
      throw new Error(`${method} ${path.split('?')[0]}: ${e.message || e}`);
    }
    const raw = await res.text();
    let data = null;
    if (raw) { try { data = JSON.parse(raw); } catch (e) { data = raw; } }
    if (!res.ok) {
      let msg = data && typeof data === 'object' ? (data.error || data.detail || data.description || data.message) : data;
      if (msg && typeof msg !== 'string') msg = JSON.stringify(msg);
      const err = new Error(`${res.status} ${msg || res.statusText || 'error'}`);
      err.status = res.status;
      throw err;
    }
    return data;
  }

  // ---------------------------------------------------------------- directory (users / chats / bots)
  async function loadDirectory(withBots) {
    const [users, chats, bots] = await Promise.all([
      api('GET', '/_control/users'),
      api('GET', '/_control/chats'),
      withBots || !state.bots.length ? api('GET', '/_control/bots').catch(() => state.bots) : Promise.resolve(state.bots),
    ]);
    const changed = JSON.stringify([users, chats, bots]) !== JSON.stringify([state.users, state.chats, state.bots]);
    state.users = Array.isArray(users) ? users : [];
    state.chats = Array.isArray(chats) ? chats : [];
    state.bots = Array.isArray(bots) ? bots : [];
    return changed;
  }

  function bot() { return state.bots[0] || null; }
  function botTitle() {
    const b = bot();
    if (!b) return t('bot');
    return b.first_name || (b.username ? `@${b.username}` : t('bot'));
  }
  function botStatusOf(chat) {
    const v = chat && chat.bot_status;
    if (!v) return null;
    if (typeof v === 'string') return v;
    if (typeof v === 'object') {
      const b = bot();
      if (b && b.username && v[b.username]) return v[b.username];
      if (b && v[String(b.id)]) return v[String(b.id)];
      const vals = Object.values(v);
      return vals.length ? String(vals[0]) : null;
    }
    return null;
  }
  function findUser(id) { return state.users.find((u) => sameId(u.id, id)) || null; }
  function findChat(id) { return state.chats.find((c) => sameId(c.id, id)) || null; }
  function isPrivate(c) { return c && c.type === 'private'; }
  function privateChatOf(uid) {
    if (uid == null) return null;
    const mineList = state.chats.filter((c) => isPrivate(c) && (sameId(c.user_id, uid) ||
      (c.user_id == null && (sameId(c.id, uid) || (c.member_ids || []).some((m) => sameId(m, uid))))));
    const b = bot();
    const withBot = b && b.username ? mineList.find((c) => c.bot && String(c.bot).toLowerCase() === String(b.username).toLowerCase()) : null;
    return withBot || mineList.find((c) => !c.bot) || mineList[0] || null;
  }
  function groupsOf(uid) {
    return state.chats
      .filter((c) => !isPrivate(c) && (c.member_ids || []).some((m) => sameId(m, uid)))
      .sort((a, b) => String(a.title || '').localeCompare(String(b.title || ''), 'zh'));
  }

  /** Chat list entries for the current user: private chat first, then groups (plus the open chat if foreign). */
  function chatEntries() {
    const uid = state.userId;
    if (uid == null) return [];
    const out = [];
    const p = privateChatOf(uid);
    out.push({ key: p ? String(p.id) : PRIVATE_NEW, chat: p, kind: 'private' });
    for (const g of groupsOf(uid)) out.push({ key: String(g.id), chat: g, kind: 'group' });
    if (state.chatKey && state.chatKey !== PRIVATE_NEW && !out.some((e) => e.key === state.chatKey)) {
      out.push({ key: state.chatKey, chat: findChat(state.chatKey), kind: 'foreign' });
    }
    return out;
  }
  function entryTitle(e) {
    if (e.kind === 'private') return `${t('private_with_bot')} · ${botTitle()}`;
    if (!e.chat) return t('unknown_chat', e.key);
    if (isPrivate(e.chat)) {
      const u = findUser(e.chat.user_id ?? e.chat.id);
      return `${t('private')} · ${u ? userName(u) : e.chat.id}`;
    }
    const title = e.chat.title || t('unknown_chat', e.chat.id);
    return e.kind === 'foreign' ? `${title} ${t('not_member')}` : title;
  }
  function entrySubtitle(e) {
    if (e.kind === 'private') {
      const b = bot();
      const parts = [];
      if (b && b.username) parts.push(`@${b.username}`);
      parts.push(e.chat ? t('bot') : t('not_created_yet'));
      return parts.join(' · ');
    }
    if (!e.chat) return '';
    const parts = [t(e.chat.type) || e.chat.type];
    if (Array.isArray(e.chat.member_ids)) parts.push(t('members', e.chat.member_ids.length));
    const bs = botStatusOf(e.chat);
    if (bs) parts.push(t('bot_status', bs));
    return parts.join(' · ');
  }

  // ---------------------------------------------------------------- sidebar rendering
  function renderUsers() {
    const sel = $('user-select');
    sel.textContent = '';
    if (!state.users.length && state.userId == null) {
      sel.appendChild(el('option', { value: '' }, t('no_users')));
    }
    const list = state.users.slice();
    if (state.userId != null && !findUser(state.userId)) list.push({ id: state.userId, first_name: `#${state.userId}` });
    for (const u of list) {
      const label = `${userName(u)}${u.username ? ` (@${u.username})` : ''} · ${u.id}`;
      sel.appendChild(el('option', { value: String(u.id) }, label));
    }
    sel.value = state.userId == null ? '' : String(state.userId);
  }

  function renderChats() {
    const entries = chatEntries();
    const list = $('chat-list');
    const sel = $('chat-select');
    list.textContent = '';
    sel.textContent = '';
    if (!entries.length) sel.appendChild(el('option', { value: '' }, t('choose_chat')));
    for (const e of entries) {
      const title = entryTitle(e);
      const sub = entrySubtitle(e);
      const avatarText = e.kind === 'private' ? initialOf(botTitle()) : initialOf(e.chat && e.chat.title);
      const li = el('li', {
        class: `chat-item${e.key === state.chatKey ? ' active' : ''}`,
        testid: 'chat-item',
        'data-chat-id': e.key === PRIVATE_NEW ? '' : e.key,
        'data-chat-kind': e.kind,
        tabindex: '0',
        role: 'button',
      },
      el('span', { class: 'avatar', style: `background:${colorFor(e.kind === 'private' ? (bot() ? bot().id : 0) : e.key)}` }, avatarText),
      el('span', { class: 'chat-item-text' },
        el('span', { class: 'chat-item-title' }, title),
        el('span', { class: 'chat-item-sub' }, sub)));
      li.addEventListener('click', () => selectChat(e.key));
      li.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); selectChat(e.key); } });
      list.appendChild(li);
      sel.appendChild(el('option', { value: e.key }, title));
    }
    sel.value = state.chatKey || '';
    renderHeader();
  }

  function currentEntry() {
    return chatEntries().find((e) => e.key === state.chatKey) || null;
  }

  function renderHeader() {
    const e = currentEntry();
    const av = $('chat-avatar');
    if (!e) {
      av.textContent = '?';
      av.style.background = '#9aa6b2';
      $('chat-subtitle').textContent = '';
      return;
    }
    av.textContent = e.kind === 'private' ? initialOf(botTitle()) : initialOf(e.chat && e.chat.title);
    av.style.background = colorFor(e.kind === 'private' ? (bot() ? bot().id : 0) : e.key);
    $('chat-subtitle').textContent = entrySubtitle(e);
  }

  function renderConn() {
    const dot = $('conn-dot');
    dot.className = `conn-dot conn-${state.conn}`;
    dot.title = t(state.conn === 'live' ? 'live' : state.conn === 'polling' ? 'polling' : 'offline');
    dot.setAttribute('data-testid', 'conn');
    dot.setAttribute('data-state', state.conn);
  }

  function applyLang() {
    document.documentElement.lang = state.lang === 'zh' ? 'zh-Hans' : 'en';
    document.title = `${t('app_title')} · Linli`;
    document.querySelectorAll('[data-i18n]').forEach((n) => { n.textContent = t(n.getAttribute('data-i18n')); });
    document.querySelectorAll('[data-i18n-placeholder]').forEach((n) => { n.placeholder = t(n.getAttribute('data-i18n-placeholder')); });
    document.querySelectorAll('[data-i18n-title]').forEach((n) => { n.title = t(n.getAttribute('data-i18n-title')); });
    $('lang-toggle').textContent = state.lang === 'zh' ? 'EN' : '中文';
    renderClock();
  }

  // ---------------------------------------------------------------- URL / persistence
  function persist() {
    if (state.userId != null) lsSet(LS.user, state.userId);
    if (state.chatKey) {
      lsSet(LS.chat, state.chatKey);
      if (state.userId != null) lsSet(LS.chatOf(state.userId), state.chatKey);
    }
    try {
      const q = new URLSearchParams(location.search);
      if (state.userId != null) q.set('user', state.userId); else q.delete('user');
      if (state.chatKey && state.chatKey !== PRIVATE_NEW) q.set('chat', state.chatKey); else q.delete('chat');
      const qs = q.toString();
      history.replaceState(null, '', `${location.pathname}${qs ? `?${qs}` : ''}${location.hash}`);
    } catch (e) { /* ignore */ }
  }

  function defaultChatKeyFor(uid, preferred) {
    const entries = (() => { const saved = state.chatKey; state.chatKey = null; const r = chatEntries(); state.chatKey = saved; return r; })();
    if (preferred && (entries.some((e) => e.key === preferred) || preferred === PRIVATE_NEW)) return preferred;
    const remembered = lsGet(LS.chatOf(uid));
    if (remembered && entries.some((e) => e.key === remembered)) return remembered;
    return entries.length ? entries[0].key : PRIVATE_NEW;
  }

  // ---------------------------------------------------------------- selection
  function selectUser(uid) {
    if (uid === '' || uid == null) return;
    const num = Number(uid);
    state.userId = Number.isFinite(num) && String(num) === String(uid) ? num : uid;
    state.pollPicks.clear();
    renderUsers();
    openChat(defaultChatKeyFor(state.userId));
  }

  function selectChat(key) {
    if (!key) return;
    openChat(key);
    closeMobileMenus();
  }
  function closeMobileMenus() { /* chat list is a <select> on phones; nothing to close */ }

  function openChat(key) {
    state.gen += 1;
    state.chatKey = key || null;
    state.chatId = key && key !== PRIVATE_NEW ? (Number.isFinite(Number(key)) ? Number(key) : key) : null;
    state.messages.clear();
    state.cursor = 0;
    state.pollPicks.clear();
    const box = $('messages');
    box.textContent = '';
    box.appendChild(el('div', { class: 'empty-state', id: 'empty-state' }));
    updatePinned();
    renderChats();
    updateEmptyState();
    updateComposer();
    persist();
    if (state.chatId != null) {
      fetchTranscript().then(() => scrollToBottom(true)).catch(showError);
    }
  }

  function updateComposer() {
    const disabled = state.userId == null;
    $('composer-input').disabled = disabled;
    $('composer-send').disabled = disabled;
    $('photo-input').disabled = disabled;
    $('voice-input').disabled = disabled;
    $('start-private').disabled = disabled;
    $('menu-button').disabled = disabled;
    hideCommandMenu();
  }

  // ---------------------------------------------------------------- the bot's command menu (☰)
  // What Telegram shows this person in this chat: the stand-in picks the list as Telegram does
  // (their own chat's menu first, then the general ones; GET /_control/menu).
  function hideCommandMenu() {
    const box = $('command-menu');
    box.hidden = true;
    box.textContent = '';
    $('menu-button').setAttribute('aria-expanded', 'false');
  }

  async function toggleCommandMenu() {
    const box = $('command-menu');
    if (!box.hidden) { hideCommandMenu(); return; }
    if (state.userId == null) { toast(t('pick_user_first'), 'error'); return; }
    let path = `/_control/menu?user_id=${encodeURIComponent(state.userId)}`;
    if (state.chatId != null && String(state.chatId) !== String(state.userId)) {
      path += `&chat_id=${encodeURIComponent(state.chatId)}`;
    }
    const commands = await api('GET', path);
    box.textContent = '';
    if (!commands.length) box.appendChild(el('div', { class: 'command-empty', text: t('no_commands') }));
    for (const c of commands) {
      box.appendChild(el('button', {
        type: 'button', class: 'command-item', role: 'menuitem', testid: 'command-item',
        onclick: () => {
          const input = $('composer-input');
          input.value = `/${c.command} `;
          hideCommandMenu();
          input.focus();
          autoGrow();
        },
      }, el('span', { class: 'command-name', text: `/${c.command}` }),
         el('span', { class: 'command-description', text: c.description })));
    }
    box.hidden = false;
    $('menu-button').setAttribute('aria-expanded', 'true');
  }

  // ---------------------------------------------------------------- transcript
  async function fetchTranscript() {
    if (state.fetching) { state.fetchAgain = true; return state.fetching; }
    state.fetching = (async () => {
      // Yield first: with no chat open the loop would finish synchronously and its `finally` would run
      // before this assignment, leaving a settled promise in state.fetching that blocks every later fetch.
      await null;
      try {
        do {
          state.fetchAgain = false;
          const gen = state.gen;
          const chatId = state.chatId;
          if (chatId == null) break;
          const data = await api('GET', `/_control/transcript?chat_id=${encodeURIComponent(chatId)}&since=${encodeURIComponent(state.cursor)}`);
          if (gen !== state.gen) { state.fetchAgain = true; continue; } // chat switched meanwhile: fetch the new one
          const msgs = (data && Array.isArray(data.messages)) ? data.messages : [];
          applyMessages(msgs);
          if (data && data.cursor != null && Number(data.cursor) >= Number(state.cursor)) state.cursor = data.cursor;
          if (state.waitCursor == null && data && data.cursor != null) state.waitCursor = data.cursor;
        } while (state.fetchAgain);
      } finally {
        state.fetching = null;
      }
    })();
    return state.fetching;
  }

  function msgId(m) { return m.message_id != null ? m.message_id : m.id; }
  function isFromBot(m) { return !!(m.is_bot || (m.from && m.from.is_bot)); }

  function applyMessages(list) {
    if (!list.length) return;
    const box = $('messages');
    const wasNearBottom = isNearBottom();
    let appendedMine = false;
    const sorted = list.slice().sort((a, b) => (a.seq || 0) - (b.seq || 0));
    for (const m of sorted) {
      if (m.chat_id != null && state.chatId != null && !sameId(m.chat_id, state.chatId)) continue;
      const id = msgId(m);
      if (id == null) continue;
      const prev = state.messages.get(String(id));
      if (prev && JSON.stringify(prev) === JSON.stringify(m)) continue;
      state.messages.set(String(id), m);
      const node = buildMessage(m);
      const existing = box.querySelector(`[data-message-id="${cssEscape(String(id))}"]`);
      if (existing) {
        existing.replaceWith(node);
      } else {
        insertSorted(box, node, id);
        if (!isFromBot(m) && m.from && sameId(m.from.id, state.userId)) appendedMine = true;
      }
    }
    refreshDividers();
    updatePinned();
    updateEmptyState();
    if (wasNearBottom || appendedMine) scrollToBottom();
  }

  function cssEscape(s) { return window.CSS && CSS.escape ? CSS.escape(s) : s.replace(/["\\]/g, '\\$&'); }

  function insertSorted(box, node, id) {
    const n = Number(id);
    const rows = box.querySelectorAll(':scope > [data-message-id]');
    for (let i = rows.length - 1; i >= 0; i--) {
      const other = Number(rows[i].getAttribute('data-message-id'));
      if (other <= n) { rows[i].after(node); return; }
    }
    const first = rows[0];
    if (first) {
      let before = first;
      while (before.previousElementSibling && before.previousElementSibling.classList.contains('day-divider')) before = before.previousElementSibling;
      box.insertBefore(node, before);
    } else box.appendChild(node);
  }

  function refreshDividers() {
    const box = $('messages');
    box.querySelectorAll(':scope > .day-divider').forEach((n) => n.remove());
    let last = null;
    box.querySelectorAll(':scope > [data-message-id]').forEach((row) => {
      const m = state.messages.get(row.getAttribute('data-message-id'));
      if (!m || !m.date) return;
      const k = dayKey(m.date);
      if (k !== last) {
        row.before(el('div', { class: 'day-divider' }, el('span', null, dayLabel(m.date))));
        last = k;
      }
    });
  }

  function updateEmptyState() {
    const box = $('messages');
    let empty = $('empty-state');
    if (!empty) { empty = el('div', { class: 'empty-state', id: 'empty-state' }); box.prepend(empty); }
    empty.textContent = '';
    const hasMessages = state.messages.size > 0;
    empty.hidden = hasMessages;
    if (hasMessages) return;
    if (state.userId == null) {
      empty.appendChild(el('p', null, t('no_user_hint')));
      return;
    }
    if (state.chatKey === PRIVATE_NEW || (state.chatId != null && isPrivate(findChat(state.chatId)))) {
      empty.appendChild(el('div', { class: 'empty-avatar', style: `background:${colorFor(bot() ? bot().id : 0)}` }, initialOf(botTitle())));
      empty.appendChild(el('div', { class: 'empty-title' }, botTitle()));
      if (bot() && bot().username) empty.appendChild(el('div', { class: 'empty-sub' }, `@${bot().username}`));
      empty.appendChild(el('p', null, t('private_empty')));
      empty.appendChild(el('button', { type: 'button', class: 'btn btn-primary start-bot', testid: 'start-bot', onclick: () => sendText('/start').catch(showError) }, t('start_button')));
      return;
    }
    empty.appendChild(el('p', null, t('no_messages')));
  }

  function updatePinned() {
    let best = null;
    for (const m of state.messages.values()) {
      if (m.pinned && !m.deleted && (!best || Number(msgId(m)) > Number(msgId(best)))) best = m;
    }
    const bar = $('pinned-bar');
    if (!best) { bar.hidden = true; bar.removeAttribute('data-pinned-id'); return; }
    bar.hidden = false;
    bar.setAttribute('data-pinned-id', String(msgId(best)));
    $('pinned-text').textContent = snippet(best);
  }

  function serviceText(m) {
    const svc = m.service && typeof m.service === 'object' ? m.service : null;
    if (!svc) return '';
    const actor = m.from ? userName(m.from) : '?';
    const names = (list) => list.map(userName).join(t('list_sep'));
    if (Array.isArray(svc.new_chat_members) && svc.new_chat_members.length) {
      const others = svc.new_chat_members.filter((u) => !(m.from && sameId(u.id, m.from.id)));
      return others.length ? t('svc_added', actor, names(others)) : t('svc_joined', actor);
    }
    if (svc.left_chat_member) {
      const u = svc.left_chat_member;
      return m.from && sameId(u.id, m.from.id) ? t('svc_left', actor) : t('svc_removed', actor, userName(u));
    }
    if (svc.pinned_message != null) {
      const ref = typeof svc.pinned_message === 'object' ? svc.pinned_message : state.messages.get(String(svc.pinned_message));
      let s = ref ? snippet(ref) : '';
      if (s.length > 30) s = `${s.slice(0, 30)}…`;
      return t('svc_pinned', actor, s);
    }
    if (svc.new_chat_title) return t('svc_title', actor, svc.new_chat_title);
    if (svc.group_chat_created || svc.supergroup_chat_created) return t('svc_created', actor);
    return Object.keys(svc).join(', ');
  }

  function snippet(m) {
    if (m.poll) return `${t('poll')}: ${m.poll.question || ''}`;
    const txt = ((m.html ? htmlToPlain(m.html) : '') || m.text || m.caption || '').replace(/\s+/g, ' ').trim();
    if (m.photo) return txt ? `${t('photo')} · ${txt}` : t('photo');
    if (m.document) return `${t('document')} · ${txt || m.document.file_name || ''}`;
    if (m.voice) return txt ? `${voiceLabel(m.voice)} · ${txt}` : voiceLabel(m.voice);
    return txt;
  }
  // "🎤 m:ss", as Telegram apps label a voice note
  function voiceLabel(voice) {
    const secs = Math.max(0, Math.round(Number(voice.duration) || 0));
    return `🎤 ${Math.floor(secs / 60)}:${pad2(secs % 60)}`;
  }
  function htmlToPlain(html) {
    const tmp = document.createElement('div');
    renderTgHtml(html, tmp, { noLinks: true });
    return tmp.textContent;
  }

  function isNearBottom() {
    const box = $('messages');
    return box.scrollHeight - box.scrollTop - box.clientHeight < 120;
  }
  function scrollToBottom() {
    const box = $('messages');
    box.scrollTop = box.scrollHeight;
  }

  // ---------------------------------------------------------------- message rendering
  function buildVoice(voice) {
    const box = el('div', { class: 'msg-voice', testid: 'voice', title: t('voice') },
      el('span', { class: 'voice-label', testid: 'voice-duration' }, voiceLabel(voice)));
    const u = safeUrl(voice.url, true);
    // preload=none: a long chat with many voices should not download them all on open
    if (u) box.appendChild(el('audio', { controls: true, preload: 'none', src: u, testid: 'voice-audio' }));
    return box;
  }

  function buildMessage(m) {
    const id = String(msgId(m));
    const fromBot = isFromBot(m);
    if (m.deleted) {
      return el('div', { class: 'msg-deleted', testid: 'message-deleted', 'data-message-id': id }, el('span', null, icon('trash', 12), ` ${t('deleted')}`));
    }
    if (m.kind === 'service') {
      const pill = el('span', { class: 'service-pill', testid: 'message-text' });
      const hasContent = m.html || m.text;
      if (hasContent) renderRichText(m, pill); else pill.textContent = serviceText(m) || snippet(m) || '·';
      return el('div', { class: 'service', testid: 'message', 'data-message-id': id, 'data-from-bot': fromBot ? '1' : '0', 'data-kind': 'service' }, pill);
    }
    const mine = !fromBot && m.from && sameId(m.from.id, state.userId);
    const chat = findChat(state.chatId);
    const inGroup = chat ? !isPrivate(chat) : false;
    const senderName = m.from ? userName(m.from) : (fromBot ? botTitle() : '?');
    const senderId = m.from ? m.from.id : (fromBot && bot() ? bot().id : 0);

    const row = el('div', {
      class: `msg-row ${mine ? 'out' : 'in'}${fromBot ? ' from-bot' : ''}${m.pinned ? ' is-pinned' : ''}`,
      testid: 'message',
      'data-message-id': id,
      'data-from-bot': fromBot ? '1' : '0',
      'data-from-id': senderId != null ? String(senderId) : '',
      'data-kind': 'message',
    });
    if (m.edited) row.setAttribute('data-edited', '1');
    if (m.pinned) row.setAttribute('data-pinned', '1');

    if (!mine) row.appendChild(el('div', { class: 'avatar msg-avatar', style: `background:${colorFor(senderId)}`, title: senderName }, initialOf(senderName)));

    const col = el('div', { class: 'msg-col' });
    const bubble = el('div', { class: `bubble${m.photo && !(m.text || m.caption || m.html) ? ' media-only' : ''}` });
    if (!mine && (fromBot || inGroup)) {
      bubble.appendChild(el('div', { class: 'msg-name', testid: 'message-sender', style: `color:${colorFor(senderId)}` },
        senderName, fromBot ? el('span', { class: 'bot-tag' }, t('bot')) : null));
    }
    if (m.photo) {
      const url = m.photo.url || (Array.isArray(m.photo) && m.photo.length ? m.photo[m.photo.length - 1].url : null);
      if (url) {
        const img = el('img', { class: 'msg-photo', testid: 'photo', src: safeUrl(url, true) || '', alt: t('photo'), loading: 'lazy' });
        img.addEventListener('load', () => { if (isNearBottom() || row === $('messages').lastElementChild) scrollToBottom(); });
        img.addEventListener('click', () => { const u = safeUrl(url, true); if (u) window.open(u, '_blank', 'noopener'); });
        bubble.appendChild(img);
      } else bubble.appendChild(el('div', { class: 'msg-doc' }, t('photo')));
    }
    if (m.document) {
      const u = safeUrl(m.document.url, true);
      const name = m.document.file_name || t('document');
      const docEl = u
        ? el('a', { class: 'msg-doc', testid: 'document', href: u, target: '_blank', rel: 'noopener noreferrer', download: name })
        : el('div', { class: 'msg-doc', testid: 'document' });
      docEl.appendChild(el('span', { class: 'doc-icon' }, icon('doc', 20)));
      docEl.appendChild(el('span', { class: 'doc-name' }, name));
      bubble.appendChild(docEl);
    }
    if (m.voice) bubble.appendChild(buildVoice(m.voice));
    if (m.poll) bubble.appendChild(buildPoll(m));
    if (m.html || m.text || m.caption) {
      const txt = el('div', { class: 'msg-text', testid: 'message-text' });
      renderRichText(m, txt);
      bubble.appendChild(txt);
    }
    const meta = el('span', { class: 'msg-meta' });
    if (m.pinned) meta.appendChild(el('span', { class: 'meta-pin', title: t('pinned'), testid: 'pinned-mark' }, icon('pin', 12)));
    if (m.edited) meta.appendChild(el('span', { class: 'meta-edited', testid: 'edited-mark' }, t('edited')));
    meta.appendChild(el('time', { class: 'meta-time', testid: 'message-time', datetime: m.date ? new Date(m.date * 1000).toISOString() : null }, fmtTime(m.date)));
    bubble.appendChild(meta);
    col.appendChild(bubble);

    const reactions = aggregateReactions(m.reactions);
    if (reactions.length) {
      const rs = el('div', { class: 'reactions', testid: 'reactions' });
      for (const r of reactions) {
        rs.appendChild(el('button', { type: 'button', class: `reaction${r.mine ? ' mine' : ''}`, testid: 'reaction', 'data-emoji': r.emoji,
          'data-count': String(r.count), onclick: () => react(m, r.mine && r.known ? null : r.emoji) }, `${r.emoji} ${r.count}`));
      }
      col.appendChild(rs);
    }

    const kb = m.reply_markup && Array.isArray(m.reply_markup.inline_keyboard) ? m.reply_markup.inline_keyboard : null;
    if (kb && kb.length) col.appendChild(buildKeyboard(m, kb));
    row.appendChild(col);

    const picker = el('div', { class: 'react-picker', testid: 'react-picker' });
    for (const e of REACTIONS) {
      picker.appendChild(el('button', { type: 'button', class: 'react-opt', testid: 'react-option', 'data-emoji': e, title: t('react'),
        onclick: (ev) => { ev.stopPropagation(); row.classList.remove('show-react'); react(m, e); } }, e));
    }
    row.appendChild(picker);
    row.addEventListener('contextmenu', (ev) => {
      if (ev.target.closest('a, button, input, textarea')) return;
      ev.preventDefault();
      document.querySelectorAll('.msg-row.show-react').forEach((n) => { if (n !== row) n.classList.remove('show-react'); });
      row.classList.toggle('show-react');
    });
    return row;
  }

  /** [{emoji, count}] or [{user_id, emoji: "👍" | ["👍"]}] → [{emoji, count, mine, known}] */
  function aggregateReactions(list) {
    if (!Array.isArray(list)) return [];
    const out = new Map();
    for (const r of list) {
      if (!r) continue;
      const emojis = Array.isArray(r.emoji) ? r.emoji : [r.emoji];
      for (const e0 of emojis) {
        const e = e0 && typeof e0 === 'object' ? (e0.emoji || e0.custom_emoji_id) : e0;
        if (!e) continue;
        const cur = out.get(e) || { emoji: String(e), count: 0, mine: false, known: false };
        cur.count += r.count != null ? Number(r.count) || 0 : 1;
        if (r.user_id != null && sameId(r.user_id, state.userId)) { cur.mine = true; cur.known = true; }
        if (r.chosen || r.mine) cur.mine = true;
        out.set(e, cur);
      }
    }
    return Array.from(out.values());
  }

  function buildKeyboard(m, kb) {
    const wrap = el('div', { class: 'keyboard', testid: 'keyboard' });
    for (const rowBtns of kb) {
      if (!Array.isArray(rowBtns)) continue;
      const r = el('div', { class: 'kb-row' });
      for (const b of rowBtns) {
        if (!b) continue;
        const label = String(b.text || '');
        let node;
        if (b.url || (b.login_url && b.login_url.url) || (b.web_app && b.web_app.url)) {
          const raw = b.url || (b.login_url && b.login_url.url) || (b.web_app && b.web_app.url);
          const href = safeUrl(raw);
          node = el('a', { class: 'kb-btn kb-url', testid: 'button', href: href || '#', target: '_blank', rel: 'noopener noreferrer', title: raw, 'data-url': raw },
            el('span', { class: 'kb-label' }, label), el('span', { class: 'kb-corner', 'aria-hidden': 'true' }, '↗'));
          if (!href) node.addEventListener('click', (ev) => { ev.preventDefault(); toast(t('unsupported_button'), 'error'); });
        } else if (b.callback_data != null) {
          node = el('button', { type: 'button', class: 'kb-btn', testid: 'button', 'data-callback': String(b.callback_data) }, el('span', { class: 'kb-label' }, label));
          node.addEventListener('click', () => tap(m, b.callback_data, node));
        } else if (b.copy_text && b.copy_text.text != null) {
          node = el('button', { type: 'button', class: 'kb-btn', testid: 'button' }, el('span', { class: 'kb-label' }, label), el('span', { class: 'kb-corner' }, '⧉'));
          node.addEventListener('click', () => {
            const done = () => toast(t('copied'));
            if (navigator.clipboard) navigator.clipboard.writeText(b.copy_text.text).then(done, done); else done();
          });
        } else {
          node = el('button', { type: 'button', class: 'kb-btn kb-unsupported', testid: 'button' }, el('span', { class: 'kb-label' }, label));
          node.addEventListener('click', () => toast(t('unsupported_button')));
        }
        r.appendChild(node);
      }
      wrap.appendChild(r);
    }
    return wrap;
  }

  function voteKey(pollId) { return `${state.userId}:${pollId}`; }

  function buildPoll(m) {
    const p = m.poll;
    const options = Array.isArray(p.options) ? p.options : [];
    const total = options.reduce((s, o) => s + (Number(o.voter_count) || 0), 0);
    const mine = state.votes[voteKey(p.id)] || [];
    const multi = !!p.allows_multiple_answers;
    const closed = !!p.is_closed;
    const picks = state.pollPicks.get(String(p.id)) || new Set();
    const wrap = el('div', { class: `poll${closed ? ' closed' : ''}`, testid: 'poll', 'data-poll-id': String(p.id) });
    wrap.appendChild(el('div', { class: 'poll-q', testid: 'poll-question' }, p.question || ''));
    const kind = [p.type === 'quiz' ? t('quiz') : (p.is_anonymous === false ? t('public_poll') : t('anonymous_poll'))];
    if (multi) kind.push(t('multiple'));
    if (closed) kind.push(t('closed'));
    wrap.appendChild(el('div', { class: 'poll-kind' }, kind.join(' · ')));
    options.forEach((o, i) => {
      const count = Number(o.voter_count) || 0;
      const pct = total ? Math.round((count * 100) / total) : 0;
      const chosen = mine.includes(i);
      const picked = picks.has(i);
      const btn = el('button', {
        type: 'button',
        class: `poll-option${chosen ? ' chosen' : ''}${picked ? ' picked' : ''}`,
        testid: 'poll-option',
        'data-index': String(i),
        'data-count': String(count),
        disabled: closed ? true : null,
      },
      el('span', { class: 'poll-check', 'aria-hidden': 'true' }, chosen ? '✓' : (multi ? (picked ? '☑' : '☐') : '○')),
      el('span', { class: 'poll-text' }, o.text || ''),
      el('span', { class: 'poll-count' }, `${count} · ${pct}%`),
      el('span', { class: 'poll-bar', style: `width:${pct}%` }));
      btn.addEventListener('click', () => {
        if (closed) return;
        if (multi) {
          const set = new Set(picks);
          if (set.has(i)) set.delete(i); else set.add(i);
          state.pollPicks.set(String(p.id), set);
          rerenderMessage(m);
        } else {
          answerPoll(m, [i]);
        }
      });
      wrap.appendChild(btn);
    });
    const foot = el('div', { class: 'poll-foot' }, el('span', { class: 'poll-total' }, t('votes', total)));
    if (multi && !closed) {
      foot.appendChild(el('button', { type: 'button', class: 'btn btn-primary poll-submit', testid: 'poll-submit', disabled: picks.size ? null : true,
        onclick: () => answerPoll(m, Array.from(picks).sort((a, b) => a - b)) }, t('vote')));
    }
    if (mine.length && !closed) {
      foot.appendChild(el('button', { type: 'button', class: 'link-btn', testid: 'poll-retract', onclick: () => answerPoll(m, []) }, t('retract')));
    }
    wrap.appendChild(foot);
    return wrap;
  }

  function rerenderMessage(m) {
    const id = String(msgId(m));
    const existing = $('messages').querySelector(`[data-message-id="${cssEscape(id)}"]`);
    const cur = state.messages.get(id) || m;
    if (existing) existing.replaceWith(buildMessage(cur));
  }

  // Small inline SVG icons (no emoji font needed for the page chrome).
  const ICONS = {
    pin: 'M16 3l5 5-2 1-3.5 3.5L16 17l-2 2-3.5-3.5L5 21l-1-1 5.5-5.5L6 11l2-2 4.5.5L16 6z',
    doc: 'M6 2h8l5 5v13a2 2 0 0 1-2 2H6a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2zm7 1.5V8h4.5L13 3.5zM8 12v1.6h8V12H8zm0 3.4V17h8v-1.6H8z',
    trash: 'M9 3h6l1 1h4v2H4V4h4l1-1zM6 8h12l-1 13H7L6 8z',
  };
  function icon(name, size) {
    const ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('width', String(size || 16));
    svg.setAttribute('height', String(size || 16));
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('class', `icon icon-${name}`);
    const path = document.createElementNS(ns, 'path');
    path.setAttribute('fill', 'currentColor');
    path.setAttribute('d', ICONS[name]);
    svg.appendChild(path);
    return svg;
  }

  // ---------------------------------------------------------------- rich text
  const SAFE_SCHEMES = /^(https?:|mailto:|tg:)/i;
  function safeUrl(raw, allowRelative) {
    if (raw == null) return null;
    const s = String(raw).trim();
    if (!s) return null;
    if (allowRelative && /^\/(?!\/)/.test(s)) return s;
    try {
      const u = new URL(s, location.href);
      if (!SAFE_SCHEMES.test(u.protocol)) return null;
      if (!/^[a-z][a-z0-9+.-]*:/i.test(s) && !allowRelative) return null;
      return u.href;
    } catch (e) { return null; }
  }

  function renderRichText(m, container) {
    container.classList.add('rich');
    if (m.html) { renderTgHtml(String(m.html), container); return; }
    const text = String(m.text != null && m.text !== '' ? m.text : (m.caption || ''));
    const ents = Array.isArray(m.entities) && m.entities.length ? m.entities
      : (Array.isArray(m.caption_entities) ? m.caption_entities : []);
    renderEntities(text, ents, container);
  }

  function linkNode(href, children) {
    const safe = safeUrl(href);
    if (!safe) {
      const span = el('span', { class: 'bad-link' });
      children.forEach((c) => span.appendChild(c));
      return span;
    }
    const a = el('a', { href: safe, target: '_blank', rel: 'noopener noreferrer' });
    children.forEach((c) => a.appendChild(c));
    const deep = parseDeepLink(safe);
    if (!deep || deep.start == null) return a;
    // a link that starts the bot (an invite, a registration link): someone else may be meant to follow it
    const wrap = el('span', { class: 'deep-link' }, a);
    wrap.appendChild(el('button', { type: 'button', class: 'open-as', testid: 'open-as', 'data-url': safe,
      title: t('open_as'), 'aria-label': t('open_as') }, `👤 ${t('open_as')}`));
    return wrap;
  }

  // ---------------------------------------------------------------- "open as…": another person follows a link
  let openAsLink = null;
  function openAsPicker(url) {
    const link = parseDeepLink(url);
    if (!link) return;
    openAsLink = link;
    $('open-as-text').textContent = t('open_as_title', url);
    const sel = $('open-as-select');
    sel.textContent = '';
    for (const u of state.users) sel.appendChild(el('option', { value: String(u.id) }, `${userName(u)} · ${u.id}`));
    const other = state.users.find((u) => !sameId(u.id, state.userId));
    if (other) sel.value = String(other.id);
    $('open-as-backdrop').hidden = false;
    sel.focus();
  }
  function closeOpenAs() { $('open-as-backdrop').hidden = true; openAsLink = null; }
  async function followAs() {
    const link = openAsLink;
    const uid = $('open-as-select').value;
    closeOpenAs();
    if (!link || !uid) return;
    selectUser(uid);
    await followDeepLink(link);
  }

  function commandNode(cmd) {
    return el('a', { class: 'cmd', href: '#', testid: 'command', 'data-command': cmd }, cmd);
  }

  // URLs, /commands and @mentions found in plain text.
  const AUTO_RE = /(https?:\/\/[^\s<>"'\u3000-\u303f\uff01-\uff0f]+)|((?<![A-Za-z0-9_/:.\-@])\/[A-Za-z][A-Za-z0-9_]{0,31}(?:@[A-Za-z0-9_]{3,32})?(?![A-Za-z0-9_/]))|((?<![A-Za-z0-9_])@[A-Za-z][A-Za-z0-9_]{3,31})|((?<![A-Za-z0-9_/.])t\.me\/[A-Za-z0-9_]+(?:\?[^\s<>"']*)?)/g;
  function appendAuto(parent, text, plain) {
    if (!text) return;
    if (plain) { parent.appendChild(document.createTextNode(text)); return; }
    let last = 0;
    AUTO_RE.lastIndex = 0;
    let mt;
    while ((mt = AUTO_RE.exec(text))) {
      let tok = mt[0];
      let end = mt.index + tok.length;
      if (mt[1] || mt[4]) {
        const trail = tok.match(/[.,;:!?)\]}'"]+$/);
        if (trail) { tok = tok.slice(0, -trail[0].length); end -= trail[0].length; }
      }
      if (mt.index > last) parent.appendChild(document.createTextNode(text.slice(last, mt.index)));
      if (mt[1]) parent.appendChild(linkNode(tok, [document.createTextNode(tok)]));
      else if (mt[4]) parent.appendChild(linkNode(`https://${tok}`, [document.createTextNode(tok)]));
      else if (mt[2]) parent.appendChild(commandNode(tok));
      else parent.appendChild(el('span', { class: 'mention' }, tok));
      last = end;
      AUTO_RE.lastIndex = end;
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  /** Render Bot API text + entities (offsets in UTF-16 code units, like JS strings). */
  function renderEntities(text, entities, container) {
    const ents = entities
      .filter((e) => e && Number.isFinite(e.offset) && Number.isFinite(e.length) && e.length > 0)
      .map((e) => ({ ...e, end: e.offset + e.length }))
      .sort((a, b) => a.offset - b.offset || b.length - a.length);
    function build(parent, start, end, list, plain) {
      let pos = start;
      let i = 0;
      while (i < list.length) {
        const e = list[i];
        if (e.offset < pos || e.end > end) { i++; continue; }
        appendAuto(parent, text.slice(pos, e.offset), plain);
        const inner = [];
        let j = i + 1;
        while (j < list.length && list[j].offset < e.end) { if (list[j].end <= e.end) inner.push(list[j]); j++; }
        const seg = text.slice(e.offset, e.end);
        const node = entityNode(e, seg);
        if (node) {
          const noAuto = plain || ['code', 'pre', 'url', 'text_link', 'email', 'bot_command', 'mention', 'hashtag', 'cashtag'].includes(e.type);
          build(node.inner || node.node, e.offset, e.end, inner, noAuto);
          parent.appendChild(node.node);
        } else {
          build(parent, e.offset, e.end, inner, plain);
        }
        pos = e.end;
        i = j;
      }
      appendAuto(parent, text.slice(pos, end), plain);
    }
    build(container, 0, text.length, ents, false);
  }

  function entityNode(e, seg) {
    const simple = { bold: 'b', italic: 'i', underline: 'u', strikethrough: 's', code: 'code' };
    if (simple[e.type]) return { node: el(simple[e.type]) };
    switch (e.type) {
      case 'spoiler': return { node: el('span', { class: 'tg-spoiler', title: '⋯' }) };
      case 'pre': {
        const code = el('code', e.language ? { class: `language-${String(e.language).replace(/[^\w-]/g, '')}` } : null);
        return { node: el('pre', null, code), inner: code };
      }
      case 'blockquote': case 'expandable_blockquote': return { node: el('blockquote') };
      case 'text_link': {
        const a = linkNode(e.url, []);
        return { node: a };
      }
      case 'url': return { node: linkNode(/^[a-z][a-z0-9+.-]*:/i.test(seg) ? seg : `https://${seg}`, []) };
      case 'email': return { node: linkNode(`mailto:${seg}`, []) };
      case 'bot_command': { const a = commandNode(''); a.textContent = ''; a.setAttribute('data-command', seg); return { node: a }; }
      case 'mention': case 'hashtag': case 'cashtag': return { node: el('span', { class: 'mention' }) };
      case 'text_mention': return { node: el('span', { class: 'mention', title: e.user ? userName(e.user) : null }) };
      default: return null;
    }
  }

  // Telegram HTML subset: allow only the listed tags, show everything else as literal text.
  const TAG_RE = /<(\/?)([A-Za-z][A-Za-z0-9-]*)((?:\s+[A-Za-z_:][-A-Za-z0-9_:.]*(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'=<>`]+))?)*)\s*>/g;
  const ATTR_RE = /([A-Za-z_:][-A-Za-z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
  const SIMPLE_TAGS = { b: 'b', strong: 'b', i: 'i', em: 'i', u: 'u', ins: 'u', s: 's', strike: 's', del: 's', code: 'code', pre: 'pre', blockquote: 'blockquote' };

  function decodeEntities(s) {
    return s.replace(/&(lt|gt|amp|quot|apos|nbsp|#\d{1,7}|#x[0-9a-fA-F]{1,6});/g, (all, name) => {
      switch (name) {
        case 'lt': return '<';
        case 'gt': return '>';
        case 'amp': return '&';
        case 'quot': return '"';
        case 'apos': return "'";
        case 'nbsp': return '\u00a0';
        default: {
          const cp = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
          try { return cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : all; } catch (e) { return all; }
        }
      }
    });
  }
  function parseAttrs(s) {
    const out = {};
    ATTR_RE.lastIndex = 0;
    let a;
    while ((a = ATTR_RE.exec(s || ''))) {
      out[a[1].toLowerCase()] = decodeEntities(a[2] != null ? a[2] : a[3] != null ? a[3] : a[4] != null ? a[4] : '');
    }
    return out;
  }

  function renderTgHtml(html, container, opts) {
    const noLinks = !!(opts && opts.noLinks);
    const stack = [{ name: null, node: container, plain: false }];
    const top = () => stack[stack.length - 1];
    const text = (s) => appendAuto(top().node, decodeEntities(s), noLinks || top().plain);
    const literal = (s) => top().node.appendChild(document.createTextNode(s));
    let last = 0;
    TAG_RE.lastIndex = 0;
    let mt;
    while ((mt = TAG_RE.exec(html))) {
      if (mt.index > last) text(html.slice(last, mt.index));
      last = mt.index + mt[0].length;
      const closing = mt[1] === '/';
      const name = mt[2].toLowerCase();
      if (closing) {
        let idx = -1;
        for (let k = stack.length - 1; k > 0; k--) { if (stack[k].name === name) { idx = k; break; } }
        if (idx > 0) stack.length = idx; else literal(mt[0]);
        continue;
      }
      const attrs = parseAttrs(mt[3]);
      let node = null;
      let inner = null;
      let plain = top().plain;
      if (SIMPLE_TAGS[name]) {
        node = el(SIMPLE_TAGS[name]);
        if (name === 'code') {
          plain = true;
          const m2 = /(?:^|\s)language-([\w-]+)/.exec(attrs.class || '');
          if (m2) node.className = `language-${m2[1]}`;
        }
        if (name === 'pre') plain = true;
        if (name === 'blockquote' && 'expandable' in attrs) node.className = 'expandable';
      } else if (name === 'a' && attrs.href != null) {
        const href = decodeEntities(attrs.href);
        const tgUser = /^tg:\/\/user\?id=/i.test(href);
        node = tgUser || noLinks ? el('span', { class: tgUser ? 'mention' : null }) : linkNode(href, []);
        plain = true;
      } else if (name === 'tg-spoiler' || (name === 'span' && /(?:^|\s)tg-spoiler(?:\s|$)/.test(attrs.class || ''))) {
        node = el('span', { class: 'tg-spoiler' });
      }
      if (!node) { literal(mt[0]); continue; }
      top().node.appendChild(node);
      stack.push({ name, node: inner || node, plain });
    }
    if (last < html.length) text(html.slice(last));
  }

  // ---------------------------------------------------------------- deep links
  function knownBotNames() { return state.bots.map((b) => String(b.username || '').toLowerCase()).filter(Boolean); }
  /** Returns {bot, start} for t.me/<bot>?start=… (start may be null: just open the chat), or null. */
  function parseDeepLink(href) {
    let u;
    try { u = new URL(href, location.href); } catch (e) { return null; }
    let name = null;
    if (u.protocol === 'tg:') {
      const q = new URLSearchParams(u.search || (u.href.split('?')[1] || ''));
      if (!/^tg:\/\/resolve/i.test(u.href)) return null;
      name = q.get('domain');
      return name ? { bot: name, start: q.has('start') ? q.get('start') : null, startgroup: q.has('startgroup') } : null;
    }
    if (!/^(www\.)?(t\.me|telegram\.me|telegram\.dog)$/i.test(u.hostname)) return null;
    const parts = u.pathname.split('/').filter(Boolean);
    if (parts.length !== 1) return null;
    name = parts[0];
    const names = knownBotNames();
    const isBot = names.length ? names.includes(name.toLowerCase()) : /bot$/i.test(name);
    if (!isBot) return null;
    return { bot: name, start: u.searchParams.has('start') ? u.searchParams.get('start') : null, startgroup: u.searchParams.has('startgroup') };
  }

  async function followDeepLink(link) {
    if (state.userId == null) throw new Error(t('pick_user_first'));
    if (link.startgroup && link.start == null) { toast(t('startgroup_hint')); return; }
    if (link.start == null) { // just open the private chat with the bot
      const p = privateChatOf(state.userId);
      openChat(p ? String(p.id) : PRIVATE_NEW);
      return;
    }
    const text = link.start ? `/start ${link.start}` : '/start';
    await sendText(text, { toPrivate: true });
  }

  // ---------------------------------------------------------------- actions
  function extractChatId(res) {
    if (!res || typeof res !== 'object') return null;
    return res.chat_id ?? (res.chat && res.chat.id) ?? (res.message && (res.message.chat_id ?? (res.message.chat && res.message.chat.id))) ?? null;
  }

  async function sendText(text, opts) {
    if (state.userId == null) throw new Error(t('pick_user_first'));
    const toPrivate = !!(opts && opts.toPrivate) || state.chatId == null;
    const body = { user_id: state.userId, text };
    if (!toPrivate) body.chat_id = state.chatId;
    const res = await api('POST', '/_control/messages', body);
    if (toPrivate) {
      await ensurePrivateOpen(extractChatId(res));
    } else {
      await fetchTranscript();
      scrollToBottom(true);
    }
    return res;
  }

  /** After creating/using the private chat: make sure it is in the directory and open. */
  async function ensurePrivateOpen(chatIdHint) {
    try { await loadDirectory(); } catch (e) { showError(e); }
    const p = privateChatOf(state.userId);
    const id = p ? p.id : chatIdHint;
    if (id == null) { renderChats(); return; }
    if (state.chatKey !== String(id)) openChat(String(id));
    else { renderChats(); await fetchTranscript(); scrollToBottom(true); }
  }

  async function submitComposer() {
    const input = $('composer-input');
    const text = input.value;
    if (!text.trim()) return;
    const send = $('composer-send');
    send.disabled = true;
    try {
      await sendText(text);
      input.value = '';
      autoGrow();
    } catch (e) {
      showError(e);
    } finally {
      send.disabled = state.userId == null;
      input.focus();
    }
  }

  // Posts a file from the composer as the chosen user (the composer's text becomes its caption).
  async function uploadMedia(route, file, defaultName, extra) {
    if (state.userId == null) throw new Error(t('pick_user_first'));
    const input = $('composer-input');
    const caption = input.value.trim();
    const fd = new FormData();
    fd.append('user_id', String(state.userId));
    if (state.chatId != null) fd.append('chat_id', String(state.chatId));
    if (caption) fd.append('caption', caption);
    for (const [key, value] of Object.entries(extra || {})) fd.append(key, value);
    fd.append('file', file, file.name || defaultName);
    const res = await api('POST', route, fd, true);
    if (caption) { input.value = ''; autoGrow(); }
    if (state.chatId == null) await ensurePrivateOpen(extractChatId(res));
    else { await fetchTranscript(); scrollToBottom(true); }
  }

  async function uploadPhoto(file) {
    if (!file) return;
    await uploadMedia('/_control/photos', file, 'photo.jpg');
  }

  // Seconds of an audio file as the browser reads them (the control API needs the sender's duration).
  function audioSeconds(file) {
    return new Promise((resolve) => {
      const url = URL.createObjectURL(file);
      const probe = new Audio();
      const done = (secs) => { URL.revokeObjectURL(url); resolve(secs); };
      probe.preload = 'metadata';
      probe.addEventListener('loadedmetadata', () => done(Number.isFinite(probe.duration) ? probe.duration : 0));
      probe.addEventListener('error', () => done(0));
      probe.src = url;
    });
  }

  async function uploadVoice(file) {
    if (!file) return;
    if (state.userId == null) throw new Error(t('pick_user_first'));
    // a browser that cannot read the length still sends the voice, as 1 second
    const seconds = Math.max(1, Math.round(await audioSeconds(file)));
    await uploadMedia('/_control/voices', file, 'voice.ogg', {duration: String(seconds)});
  }

  async function tap(m, data, node) {
    if (state.userId == null) { toast(t('pick_user_first'), 'error'); return; }
    if (node) node.classList.add('loading');
    try {
      const res = await api('POST', '/_control/taps', {
        user_id: state.userId,
        chat_id: m.chat_id != null ? m.chat_id : state.chatId,
        message_id: msgId(m),
        data,
      });
      const ans = res && res.answer;
      if (ans && ans.text) {
        if (ans.show_alert) showAlert(ans.text); else toast(ans.text);
      }
      if (ans && ans.url) {
        const link = parseDeepLink(ans.url);
        if (link) await followDeepLink(link);
        else { const u = safeUrl(ans.url); if (u) window.open(u, '_blank', 'noopener'); }
      }
      await fetchTranscript();
    } catch (e) {
      showError(e);
    } finally {
      if (node) node.classList.remove('loading');
    }
  }

  async function answerPoll(m, optionIds) {
    if (state.userId == null) { toast(t('pick_user_first'), 'error'); return; }
    const p = m.poll;
    try {
      await api('POST', '/_control/poll_answers', { user_id: state.userId, poll_id: p.id, option_ids: optionIds });
      if (optionIds.length) state.votes[voteKey(p.id)] = optionIds; else delete state.votes[voteKey(p.id)];
      lsSet(LS.votes, JSON.stringify(state.votes));
      state.pollPicks.delete(String(p.id));
      rerenderMessage(m);
      await fetchTranscript();
    } catch (e) {
      showError(e);
    }
  }

  /** emoji null = remove my reaction. */
  async function react(m, emoji) {
    if (state.userId == null) { toast(t('pick_user_first'), 'error'); return; }
    try {
      await api('POST', '/_control/reactions', { user_id: state.userId, chat_id: m.chat_id != null ? m.chat_id : state.chatId, message_id: msgId(m), emoji: emoji == null ? [] : emoji });
      await fetchTranscript();
    } catch (e) {
      showError(e);
    }
  }

  async function createUser(name) {
    const first = name.trim();
    if (!first) { toast(t('enter_name'), 'error'); return; }
    const user = await api('POST', '/_control/users', { first_name: first, language_code: state.lang === 'en' ? 'en' : 'zh-hans' });
    await loadDirectory();
    const uid = user && user.id != null ? user.id : null;
    if (uid != null) {
      if (!findUser(uid)) state.users.push(user);
      state.userId = uid;
      renderUsers();
      const p = privateChatOf(uid);
      openChat(p ? String(p.id) : PRIVATE_NEW);
    } else {
      renderUsers();
      renderChats();
    }
    toast(t('user_created', first));
  }

  // ---------------------------------------------------------------- live updates
  async function refreshAll() {
    const changed = await loadDirectory().catch((e) => { throw e; });
    if (changed) {
      renderUsers();
      // A pending private chat that now exists: switch to it.
      if (state.chatKey === PRIVATE_NEW) {
        const p = privateChatOf(state.userId);
        if (p) { openChat(String(p.id)); return; }
      }
      renderChats();
      updateEmptyState();
    }
    await fetchTranscript();
  }

  function setConn(c) {
    if (state.conn === c) return;
    const was = state.conn;
    state.conn = c;
    renderConn();
    if (c === 'offline' && was !== 'offline') toast(t('network_lost'), 'error');
  }

  async function waitLoop() {
    let waitBroken = 0; // consecutive /wait failures
    let nextWaitTry = 0;
    for (;;) {
      if (waitBroken && Date.now() < nextWaitTry) {
        // Fallback: poll every second.
        try { await refreshAll(); setConn('polling'); } catch (e) { setConn('offline'); }
        await sleep(1000);
        continue;
      }
      const since = state.waitCursor != null ? state.waitCursor : state.cursor || 0;
      const t0 = Date.now();
      try {
        const data = await api('GET', `/_control/wait?since=${encodeURIComponent(since)}&timeout=25`);
        waitBroken = 0;
        setConn('live');
        const cur = data && data.cursor != null ? data.cursor : since;
        state.waitCursor = cur;
        if (data && data.clock) setClock(data.clock);
        if (String(cur) !== String(since)) {
          try { await refreshAll(); } catch (e) { showError(e); }
        } else if (Date.now() - t0 < 500) {
          await sleep(1000); // the server answered at once without news: don't spin
        }
      } catch (e) {
        waitBroken += 1;
        nextWaitTry = Date.now() + Math.min(30000, 2000 * waitBroken);
        setConn('polling');
      }
    }
  }

  // ---------------------------------------------------------------- composer helpers
  function autoGrow() {
    const ta = $('composer-input');
    ta.style.height = 'auto';
    ta.style.height = `${Math.min(ta.scrollHeight, 160)}px`;
  }

  // ---------------------------------------------------------------- events
  function bind() {
    $('lang-toggle').addEventListener('click', () => {
      state.lang = state.lang === 'zh' ? 'en' : 'zh';
      lsSet(LS.lang, state.lang);
      applyLang();
      renderUsers();
      renderChats();
      rerenderAllMessages();
      updatePinned();
      updateEmptyState();
      renderConn();
    });
    $('user-select').addEventListener('change', (e) => selectUser(e.target.value));
    $('chat-select').addEventListener('change', (e) => selectChat(e.target.value));
    $('start-private').addEventListener('click', () => {
      if (state.userId == null) { toast(t('pick_user_first'), 'error'); return; }
      const p = privateChatOf(state.userId);
      openChat(p ? String(p.id) : PRIVATE_NEW);
    });
    $('new-user-form').addEventListener('submit', async (e) => {
      e.preventDefault();
      const input = $('new-user-name');
      const btn = $('new-user-create');
      btn.disabled = true;
      try {
        await createUser(input.value);
        input.value = '';
      } catch (err) {
        showError(err);
      } finally {
        btn.disabled = false;
      }
    });
    $('composer').addEventListener('submit', (e) => { e.preventDefault(); submitComposer(); });
    $('open-as-cancel').addEventListener('click', closeOpenAs);
    $('open-as-go').addEventListener('click', () => { followAs().catch(showError); });
    $('menu-button').addEventListener('click', () => { toggleCommandMenu().catch(showError); });
    const ta = $('composer-input');
    ta.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
        e.preventDefault();
        submitComposer();
      }
    });
    ta.addEventListener('input', autoGrow);
    $('photo-input').addEventListener('change', async (e) => {
      const input = e.target;
      const file = input.files && input.files[0];
      try {
        await uploadPhoto(file);
      } catch (err) {
        showError(err);
      } finally {
        input.value = '';
      }
    });
    $('voice-input').addEventListener('change', async (e) => {
      const input = e.target;
      const file = input.files && input.files[0];
      try {
        await uploadVoice(file);
      } catch (err) {
        showError(err);
      } finally {
        input.value = '';
      }
    });
    // Links, commands and spoilers inside messages (delegated).
    $('messages').addEventListener('click', (e) => {
      const spoiler = e.target.closest('.tg-spoiler');
      if (spoiler && !spoiler.classList.contains('revealed')) { e.preventDefault(); spoiler.classList.add('revealed'); return; }
      const cmd = e.target.closest('a.cmd');
      if (cmd) {
        e.preventDefault();
        sendText(cmd.getAttribute('data-command') || cmd.textContent).catch(showError);
        return;
      }
      const openAs = e.target.closest('.open-as');
      if (openAs) {
        e.preventDefault();
        openAsPicker(openAs.getAttribute('data-url'));
        return;
      }
      const a = e.target.closest('a[href]');
      if (a) {
        const link = parseDeepLink(a.getAttribute('data-url') || a.getAttribute('href'));
        if (link) {
          e.preventDefault();
          followDeepLink(link).catch(showError);
        }
      }
      if (!e.target.closest('.react-picker')) {
        document.querySelectorAll('.msg-row.show-react').forEach((n) => n.classList.remove('show-react'));
      }
    });
    $('pinned-bar').addEventListener('click', () => {
      const id = $('pinned-bar').getAttribute('data-pinned-id');
      const node = id && $('messages').querySelector(`[data-message-id="${cssEscape(id)}"]`);
      if (node) {
        node.scrollIntoView({ block: 'center', behavior: 'smooth' });
        node.classList.add('flash');
        setTimeout(() => node.classList.remove('flash'), 1200);
      }
    });
    $('alert-ok').addEventListener('click', closeAlert);
    $('alert-backdrop').addEventListener('click', (e) => { if (e.target === $('alert-backdrop')) closeAlert(); });
    document.addEventListener('keydown', (e) => {
      if (!$('alert-backdrop').hidden && (e.key === 'Escape' || e.key === 'Enter')) { e.preventDefault(); closeAlert(); }
    });
  }

  function rerenderAllMessages() {
    const box = $('messages');
    box.querySelectorAll(':scope > [data-message-id]').forEach((row) => {
      const m = state.messages.get(row.getAttribute('data-message-id'));
      if (m) row.replaceWith(buildMessage(m));
    });
    refreshDividers();
  }

  // ---------------------------------------------------------------- boot
  async function init() {
    applyLang();
    renderConn();
    bind();
    updateComposer();
    try {
      await loadDirectory(true);
    } catch (e) {
      showError(e);
    }
    await fetchClock();
    setInterval(fetchClock, 15000); // the header's clock ticks on (and follows a /clock jump)
    const q = new URLSearchParams(location.search);
    const qUser = q.get('user');
    const qChat = q.get('chat');
    let uid = qUser || lsGet(LS.user);
    if (uid != null && !qUser && !findUser(uid)) uid = null; // stale remembered user
    if (uid == null && state.users.length) uid = state.users[0].id;
    if (uid != null) {
      const num = Number(uid);
      state.userId = Number.isFinite(num) && String(num) === String(uid) ? num : uid;
    }
    renderUsers();
    if (state.userId != null) {
      let key;
      if (qChat) key = qChat;
      else {
        const remembered = lsGet(LS.chatOf(state.userId));
        key = defaultChatKeyFor(state.userId, remembered || undefined);
        if (remembered && remembered !== PRIVATE_NEW && key !== remembered && findChat(remembered)) key = remembered;
      }
      openChat(key);
    } else {
      renderChats();
      updateEmptyState();
    }
    waitLoop();
  }

  // Small hook for debugging in the console and for tests.
  window.linliSandbox = { state, renderTgHtml, renderEntities, parseDeepLink };

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
