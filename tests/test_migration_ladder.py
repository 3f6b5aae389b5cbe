"""Migration 0013 (#13): the incident alerts queued before it are copied from the outbox into the ladder's alert
rows, so closing an incident opened before the upgrade still tells everyone it alerted."""

from __future__ import annotations

import json

from alembic import command
from sqlalchemy import create_engine, text

from storage.migrate import alembic_config, sync_url, upgrade


def test_item4_migration_copies_the_incident_alerts_from_the_outbox(db_url: str) -> None:
    command.downgrade(alembic_config(db_url), "0012")
    engine = create_engine(sync_url(db_url))
    at = "2027-03-01 01:00:00"
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO community (id, slug, name, timezone, locale, settings, created_at) "
                              "VALUES (1, 'bc', 'c', 'Asia/Shanghai', 'zh_CN', '{}', :at)"), {"at": at})
            conn.execute(text("INSERT INTO \"user\" (id, tg_id, first_name, created_at) VALUES (5, 9005, 'g', :at)"),
                         {"at": at})
            conn.execute(text("INSERT INTO member (id, community_id, user_id, display_name, consent_at, privacy_version, "
                              "joined_at) VALUES (3, 1, 5, 'g', :at, 1, :at)"), {"at": at})
            rows = [("ci:7:0:3", 9005, 5, "en"), ("ci:7:0:g2", -100777, None, "zh_CN"),
                    ("ci:7:1:3", 9005, 5, "en"), ("cic:7:9005", 9005, 5, "en"), ("ck:4:0", 9005, 5, "en"),
                    ("ci:8:0:44", 9005, 5, "en")]  # (a member no longer there: the row without it)
            for i, (key, chat, uid, lang) in enumerate(rows, 1):
                conn.execute(text(
                    "INSERT INTO outboxmessage (id, community_id, tg_chat_id, recipient_user_id, payload, dedupe_key, "
                    "status, attempts, not_before, created_at, priority) VALUES (:id, 1, :chat, :uid, :payload, :key, "
                    "'sent', 0, :at, :at, 1)"),
                    {"id": i, "chat": chat, "uid": uid, "key": key, "at": at,
                     "payload": json.dumps({"notice": "ci_alert", "lang": lang})})
        upgrade(db_url)
        with engine.connect() as conn:
            got = conn.execute(text("SELECT kind, item_id, rung, tg_chat_id, recipient_user_id, member_id, lang "
                                    "FROM ladderalert ORDER BY id")).all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in got] == [("incident", 7, 0, 9005, 5, 3, "en"), ("incident", 7, 0, -100777, None, None,
                                                                              "zh_CN"),
                                       ("incident", 7, 1, 9005, 5, 3, "en"), ("incident", 8, 0, 9005, 5, None, "en")]
