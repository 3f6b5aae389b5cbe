"""An update's replies as kept with its processed-update mark (flows/updates.py: keep_replies), and back.

Only messages are kept (sent or edited): a toast is useless a few seconds later, a count on a button shows
again on the next press, and a native poll is recorded with its own second transaction."""

from __future__ import annotations

from typing import Any

from bot.core.types import Edit, OutMessage, Reply, Send


def to_kept(replies: list[Reply]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for r in replies:
        if isinstance(r, Send):
            out.append({"op": "send", "chat_id": r.chat_id, "reply_to": r.reply_to,
                        "message": r.message.to_payload(), "preview": not r.message.disable_preview})
        elif isinstance(r, Edit):
            out.append({"op": "edit", "chat_id": r.chat_id, "message_id": r.message_id,
                        "message": r.message.to_payload(), "preview": not r.message.disable_preview})
    return out


def from_kept(kept: list[dict[str, Any]]) -> list[Reply]:
    out: list[Reply] = []
    for k in kept:
        m = OutMessage.from_payload(k["message"])
        if k.get("preview"):
            m = OutMessage(text=m.text, buttons=m.buttons, photo=m.photo, voice=m.voice, disable_preview=False)
        out.append(Send(int(k["chat_id"]), m, k.get("reply_to")) if k["op"] == "send"
                   else Edit(int(k["chat_id"]), int(k["message_id"]), m))
    return out
