/** Schema migrations, applied in order; the index + 1 is SQLite's user_version. Never edit a released one. */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);

  CREATE TABLE villages (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, township TEXT, county TEXT,
    timezone TEXT NOT NULL, lat REAL NOT NULL, lng REAL NOT NULL, created_at INTEGER NOT NULL
  );
  CREATE TABLE households (
    id TEXT PRIMARY KEY, village_id TEXT NOT NULL REFERENCES villages(id),
    address TEXT NOT NULL, lat REAL NOT NULL, lng REAL NOT NULL, key_holder_note TEXT, created_at INTEGER NOT NULL
  );
  CREATE TABLE residents (
    id TEXT PRIMARY KEY, household_id TEXT NOT NULL REFERENCES households(id),
    name TEXT NOT NULL, sex TEXT, birth_year INTEGER, id_number TEXT, phone TEXT, category TEXT, medical_notes TEXT,
    created_at INTEGER NOT NULL
  );
  -- The ordered contact chain of one resident: position 0 is texted first.
  CREATE TABLE contacts (
    id TEXT PRIMARY KEY, resident_id TEXT NOT NULL REFERENCES residents(id),
    position INTEGER NOT NULL, name TEXT NOT NULL, role TEXT NOT NULL, phone TEXT NOT NULL, post TEXT,
    UNIQUE (resident_id, position)
  );
  CREATE TABLE devices (
    id TEXT PRIMARY KEY, household_id TEXT NOT NULL REFERENCES households(id), resident_id TEXT REFERENCES residents(id),
    kind TEXT NOT NULL, label TEXT, secret_hash TEXT NOT NULL, created_at INTEGER NOT NULL,
    online INTEGER NOT NULL DEFAULT 0, last_seen_at INTEGER, firmware TEXT, battery_pct REAL
  );

  -- Every device event seen, once per (device, event id): the dedup key of "exactly once".
  CREATE TABLE device_events (
    device_id TEXT NOT NULL, event_id TEXT NOT NULL, type TEXT NOT NULL, event_ts INTEGER NOT NULL,
    received_at INTEGER NOT NULL, alarm_id TEXT,
    PRIMARY KEY (device_id, event_id)
  ) WITHOUT ROWID;

  CREATE TABLE alarms (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, severity TEXT NOT NULL, status TEXT NOT NULL,
    device_id TEXT NOT NULL, event_id TEXT NOT NULL, event_ts INTEGER NOT NULL,
    resident_id TEXT NOT NULL REFERENCES residents(id), household_id TEXT NOT NULL, village_id TEXT NOT NULL,
    opened_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
    taken_by TEXT, taken_at INTEGER, resolved_at INTEGER, resolution_note TEXT,
    escalation_level INTEGER NOT NULL DEFAULT 0, next_escalation_at INTEGER,
    UNIQUE (device_id, event_id)
  );
  CREATE INDEX alarms_active ON alarms (status, opened_at);
  CREATE INDEX alarms_escalation ON alarms (next_escalation_at) WHERE next_escalation_at IS NOT NULL;

  CREATE TABLE alarm_history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, alarm_id TEXT NOT NULL REFERENCES alarms(id),
    at INTEGER NOT NULL, action TEXT NOT NULL, by TEXT, note TEXT
  );
  CREATE INDEX alarm_history_alarm ON alarm_history (alarm_id, seq);

  -- The notification outbox: written in the alarm's transaction, drained by OutboxWorker.
  CREATE TABLE notifications (
    id TEXT PRIMARY KEY, alarm_id TEXT NOT NULL REFERENCES alarms(id), channel TEXT NOT NULL,
    contact_id TEXT, contact_name TEXT NOT NULL, contact_role TEXT NOT NULL, phone TEXT NOT NULL,
    escalation_level INTEGER NOT NULL, template TEXT NOT NULL, params_json TEXT NOT NULL, text TEXT NOT NULL,
    status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT,
    created_at INTEGER NOT NULL, next_attempt_at INTEGER, sent_at INTEGER, provider_ref TEXT
  );
  CREATE INDEX notifications_due ON notifications (status, next_attempt_at);
  CREATE INDEX notifications_alarm ON notifications (alarm_id);

  -- Commands to devices ("taken", "resolved"...) written with the state change, sent when the device is online.
  CREATE TABLE device_commands (
    id TEXT PRIMARY KEY, device_id TEXT NOT NULL, alarm_id TEXT, payload_json TEXT NOT NULL,
    created_at INTEGER NOT NULL, sent_at INTEGER
  );
  CREATE INDEX device_commands_pending ON device_commands (device_id, created_at) WHERE sent_at IS NULL;
  `,
  `
  -- A door that leads out of the home: opening it and silence after means "gone out", not "collapsed".
  ALTER TABLE devices ADD COLUMN is_exit INTEGER NOT NULL DEFAULT 0;
  -- Away mode (visiting family, in hospital): set by the resident or the duty staff.
  ALTER TABLE residents ADD COLUMN away INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE residents ADD COLUMN away_since INTEGER;

  -- Recent sensor readings (the embedded telemetry store), pruned after the retention period.
  CREATE TABLE telemetry (
    device_id TEXT NOT NULL, received_at INTEGER NOT NULL, device_ts INTEGER NOT NULL, readings_json TEXT NOT NULL
  );
  CREATE INDEX telemetry_device_time ON telemetry (device_id, received_at);

  -- Findings waiting out a grace period (a fall the person may cancel): durable, so a
  -- crash during the 30 s does not lose the fall.
  CREATE TABLE pending_findings (
    device_id TEXT NOT NULL, event_id TEXT NOT NULL, kind TEXT NOT NULL, subject_id TEXT,
    finding_json TEXT NOT NULL, created_at INTEGER NOT NULL, due_at INTEGER NOT NULL,
    cancelled_at INTEGER, raised_at INTEGER,
    PRIMARY KEY (device_id, event_id)
  ) WITHOUT ROWID;
  CREATE INDEX pending_findings_due ON pending_findings (due_at) WHERE cancelled_at IS NULL AND raised_at IS NULL;

  -- What detectors have learned (a person's routine), so a restart does not forget it.
  CREATE TABLE detector_state (
    detector TEXT NOT NULL, subject_id TEXT NOT NULL, state_json TEXT NOT NULL, updated_at INTEGER NOT NULL,
    PRIMARY KEY (detector, subject_id)
  ) WITHOUT ROWID;
  `,
  `
  -- The figures of the finding that opened a case (its details, a JSON object such as
  -- {"coPpm":320}): the escalation SMS says them again. NULL for a finding without
  -- details and for the cases opened before this column existed.
  ALTER TABLE alarms ADD COLUMN details_json TEXT;
  `,
  `
  -- migration 4: users, their villages, sessions, the audit log
  -- A user of the dashboard. password_hash is "scrypt$N$r$p$salt$hash" (base64): never the password.
  CREATE TABLE users (
    id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE COLLATE NOCASE, display_name TEXT NOT NULL,
    role TEXT NOT NULL, township TEXT, phone TEXT, password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL, password_changed_at INTEGER NOT NULL
  );
  -- The villages of a duty officer (村委值班).
  CREATE TABLE user_villages (
    user_id TEXT NOT NULL REFERENCES users(id), village_id TEXT NOT NULL REFERENCES villages(id),
    PRIMARY KEY (user_id, village_id)
  ) WITHOUT ROWID;
  -- A login session; only the SHA-256 of the cookie's token is kept.
  CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL, last_seen_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
    revoked_at INTEGER, address TEXT
  ) WITHOUT ROWID;
  CREATE INDEX sessions_user ON sessions (user_id);
  -- Who did what: logins (also failed ones, with the name tried), logouts, case actions, away changes, user admin.
  CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, action TEXT NOT NULL,
    user_id TEXT, actor TEXT NOT NULL, target TEXT, detail TEXT, address TEXT
  );
  -- The login throttle counts failed logins per name and per address in a window.
  CREATE INDEX audit_login_failed_target ON audit_log (target, at) WHERE action = 'loginFailed';
  CREATE INDEX audit_login_failed_address ON audit_log (address, at) WHERE action = 'loginFailed';
  `,
  `
  -- migration 5: answer codes of the links in alarm SMS
  -- One row per SMS with a link: the SHA-256 of its code (never the code), the one
  -- case and the one contact it opens, written in the transaction of its
  -- notification row. A code stops working when its case closes or at expires_at.
  CREATE TABLE answer_codes (
    code_hash TEXT PRIMARY KEY, alarm_id TEXT NOT NULL REFERENCES alarms(id),
    notification_id TEXT NOT NULL REFERENCES notifications(id), contact_id TEXT,
    contact_name TEXT NOT NULL, contact_role TEXT NOT NULL,
    created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX answer_codes_alarm ON answer_codes (alarm_id);
  `,
  `
  -- migration 6: village plan images for the offline map
  -- A village plan image (png/jpeg in the data directory's map-plans/), placed on
  -- the map by its south-west and north-east corners (WGS-84): the map of a
  -- village office without internet.
  CREATE TABLE map_plans (
    village_id TEXT PRIMARY KEY REFERENCES villages(id),
    file TEXT NOT NULL, content_type TEXT NOT NULL, width INTEGER NOT NULL, height INTEGER NOT NULL,
    south REAL NOT NULL, west REAL NOT NULL, north REAL NOT NULL, east REAL NOT NULL,
    uploaded_at INTEGER NOT NULL, uploaded_by TEXT
  );
  `,
  `
  -- migration 7: the resident card and device health.
  -- Conditions (a JSON array of short names) and medication, for the card.
  ALTER TABLE residents ADD COLUMN conditions_json TEXT;
  ALTER TABLE residents ADD COLUMN medication_notes TEXT;
  -- Signs of life per resident and local half hour (slot_start: the UTC instant the
  -- half hour begins), as the pipeline passes them to the inactivity detector;
  -- pruned after the retention period. A count per slot, not every event: small.
  CREATE TABLE activity_slots (
    resident_id TEXT NOT NULL, slot_start INTEGER NOT NULL, signs INTEGER NOT NULL, first_at INTEGER NOT NULL,
    PRIMARY KEY (resident_id, slot_start)
  ) WITHOUT ROWID;
  -- A device's presence changes (online/offline) and battery levels over time, for its history.
  CREATE TABLE device_history (
    device_id TEXT NOT NULL, at INTEGER NOT NULL, kind TEXT NOT NULL, value REAL
  );
  CREATE INDEX device_history_device_time ON device_history (device_id, at);
  `,
  `
  -- migration 8: notices held by an SMS provider outage
  -- When an outage of the SMS provider (a refused account, the provider out of
  -- reach) first kept this notice from going; NULL when it is not held. A held
  -- notice waits (status pending, no attempt counted), the dashboard shows it as
  -- waiting for the provider, and its case's escalation does not move past it.
  ALTER TABLE notifications ADD COLUMN outage_at INTEGER;
  `,
  `
  -- migration 9: the storage probe
  -- One scratch row the server writes (a 64 KiB blob, deleted in the same
  -- transaction) to tell whether the database can take new data again after a
  -- write failed: a disk that is full still lets an UPDATE in place succeed.
  CREATE TABLE storage_probe (id INTEGER PRIMARY KEY, filler BLOB);
  `,
  `
  -- migration 10: a stuck button folded into a count on its case, the case history capped, unstable presence.
  -- How often the case was triggered in all (1: once) and when last; history entries dropped by the cap.
  ALTER TABLE alarms ADD COLUMN repeat_count INTEGER NOT NULL DEFAULT 1;
  ALTER TABLE alarms ADD COLUMN repeat_last_at INTEGER;
  ALTER TABLE alarms ADD COLUMN history_omitted INTEGER NOT NULL DEFAULT 0;
  -- Cases from before were given one "triggered again" entry per repeat: count them.
  UPDATE alarms SET
    repeat_count = 1 + (SELECT COUNT(*) FROM alarm_history h WHERE h.alarm_id = alarms.id AND h.action = 'duplicate'),
    repeat_last_at = (SELECT MAX(h.at) FROM alarm_history h WHERE h.alarm_id = alarms.id AND h.action = 'duplicate');
  -- Until when a device whose connection keeps dropping counts as unstable (null: stable).
  ALTER TABLE devices ADD COLUMN unstable_until INTEGER;
  `,
  `
  -- migration 11: device commands resent until the device acknowledges them
  -- A command (received, taken, …) stays open until the device's 'ack' event names
  -- its id, a newer command of the same case is acknowledged, or it expires; while
  -- open it is resent with a doubling delay and at once when the device reconnects.
  -- sent_at keeps its meaning: the first time the broker took it.
  ALTER TABLE device_commands ADD COLUMN expires_at INTEGER;
  ALTER TABLE device_commands ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE device_commands ADD COLUMN next_attempt_at INTEGER;
  -- end_reason: 'acked', 'superseded', 'expired', or 'published' (ended under the
  -- old rule, when the broker took it, before this migration).
  ALTER TABLE device_commands ADD COLUMN ended_at INTEGER;
  ALTER TABLE device_commands ADD COLUMN end_reason TEXT;
  UPDATE device_commands SET ended_at = sent_at, end_reason = 'published', attempts = 1 WHERE sent_at IS NOT NULL;
  UPDATE device_commands SET expires_at = created_at + 86400000, next_attempt_at = created_at;
  DROP INDEX device_commands_pending;
  CREATE INDEX device_commands_open ON device_commands (device_id, created_at) WHERE ended_at IS NULL;
  CREATE INDEX device_commands_due ON device_commands (next_attempt_at) WHERE ended_at IS NULL;
  `,
  `
  -- migration 12: an index for every query on the alarm path (issue 10's profile: each SOS scanned every open case)
  -- The open case of a resident and kind that a repeat joins; a resident's cases for the card.
  CREATE INDEX alarms_resident_kind ON alarms (resident_id, kind, status, opened_at);
  -- The next escalation due: the first entry of this index, not a MIN over every case.
  CREATE INDEX alarms_open_escalation ON alarms (next_escalation_at) WHERE status = 'open' AND next_escalation_at IS NOT NULL;
  -- The devices whose presses joined a case (the commands of a transition).
  CREATE INDEX device_events_alarm ON device_events (alarm_id, device_id, received_at) WHERE alarm_id IS NOT NULL;
  -- The notices of one escalation step of a case (held by an outage or not).
  CREATE INDEX notifications_alarm_level ON notifications (alarm_id, escalation_level);
  -- The answer code of a notice (renewed when the SMS goes).
  CREATE INDEX answer_codes_notification ON answer_codes (notification_id);
  -- The next expiry of an open device command, and the expired ones (the resend timer).
  CREATE INDEX device_commands_expiry ON device_commands (expires_at) WHERE ended_at IS NULL;
  -- The registry's joins on every event: a household's first resident, a household's and a resident's devices, a village's households.
  CREATE INDEX residents_household ON residents (household_id, created_at);
  CREATE INDEX devices_household ON devices (household_id);
  CREATE INDEX devices_resident ON devices (resident_id);
  CREATE INDEX households_village ON households (village_id);
  -- The outbox's order without a sort of the whole backlog: the case's severity rank on each notice
  -- (0 critical, 1 urgent, 2 maintenance; a case's severity never changes), then the due time.
  ALTER TABLE notifications ADD COLUMN priority INTEGER NOT NULL DEFAULT 2;
  UPDATE notifications SET priority = (SELECT CASE a.severity WHEN 'critical' THEN 0 WHEN 'urgent' THEN 1 ELSE 2 END FROM alarms a WHERE a.id = notifications.alarm_id);
  CREATE INDEX notifications_claim ON notifications (status, priority, next_attempt_at, created_at);
  -- The open commands of a device that are due (device_commands_open has no next_attempt_at).
  CREATE INDEX device_commands_device_due ON device_commands (device_id, next_attempt_at) WHERE ended_at IS NULL;
  `,
  `
  -- migration 13: the person record (一人一档), its history, leaving the registry, visits (issue 11, docs/township.md)
  ALTER TABLE residents ADD COLUMN care_level TEXT NOT NULL DEFAULT 'ordinary';
  ALTER TABLE residents ADD COLUMN living_situation TEXT;
  ALTER TABLE residents ADD COLUMN measures TEXT;
  ALTER TABLE residents ADD COLUMN notes TEXT;
  ALTER TABLE residents ADD COLUMN guardian_name TEXT;
  ALTER TABLE residents ADD COLUMN guardian_workplace TEXT;
  ALTER TABLE residents ADD COLUMN guardian_phone TEXT;
  -- Local dates (YYYY-MM-DD, the village's time). Those registered before: the day of created_at in UTC+8 (China's one time zone).
  ALTER TABLE residents ADD COLUMN joined_on TEXT;
  UPDATE residents SET joined_on = date(created_at / 1000, 'unixepoch', '+8 hours');
  ALTER TABLE residents ADD COLUMN left_on TEXT;
  ALTER TABLE residents ADD COLUMN leave_reason TEXT;
  ALTER TABLE residents ADD COLUMN leave_note TEXT;
  ALTER TABLE residents ADD COLUMN left_recorded_at INTEGER;
  ALTER TABLE residents ADD COLUMN left_by TEXT;
  -- The free-text categories of before become the policies' codes (township.ts categoryFromText); an unknown text becomes other and is kept in the notes.
  UPDATE residents SET notes = '类别: ' || category WHERE category IS NOT NULL AND category NOT LIKE '%特困%' AND category NOT LIKE '%分散供养%' AND category NOT LIKE '%五保%'
    AND category NOT LIKE '%残疾%' AND category NOT LIKE '%低保%' AND category NOT LIKE '%返贫%' AND category NOT LIKE '%致贫%' AND category NOT LIKE '%监测%'
    AND category NOT LIKE '%留守%' AND category NOT LIKE '%独居%' AND category NOT LIKE '%空巢%'
    AND category NOT IN ('dispersedSupport', 'severeDisability', 'minimumLiving', 'povertyMonitored', 'leftBehindOrAlone', 'other', '其他', '其它');
  UPDATE residents SET category = CASE
      WHEN category IN ('dispersedSupport', 'severeDisability', 'minimumLiving', 'povertyMonitored', 'leftBehindOrAlone', 'other') THEN category
      WHEN category LIKE '%特困%' OR category LIKE '%分散供养%' OR category LIKE '%五保%' THEN 'dispersedSupport'
      WHEN category LIKE '%残疾%' THEN 'severeDisability'
      WHEN category LIKE '%低保%' THEN 'minimumLiving'
      WHEN category LIKE '%返贫%' OR category LIKE '%致贫%' OR category LIKE '%监测%' THEN 'povertyMonitored'
      WHEN category LIKE '%留守%' OR category LIKE '%独居%' OR category LIKE '%空巢%' THEN 'leftBehindOrAlone'
      ELSE 'other' END
    WHERE category IS NOT NULL;
  CREATE INDEX residents_left ON residents (left_on);

  -- Every change to a person record: who, when, and the fields with their old and new values
  -- (in clear, like the residents table; masked when read for a role that may not see them).
  CREATE TABLE person_history (
    id INTEGER PRIMARY KEY, resident_id TEXT NOT NULL REFERENCES residents(id), at INTEGER NOT NULL,
    user_id TEXT, actor TEXT NOT NULL, action TEXT NOT NULL, changes_json TEXT NOT NULL
  );
  CREATE INDEX person_history_resident ON person_history (resident_id, at);

  -- Visits (探访). visitor_contact_id: the helper of the chain who visited; null: the user who recorded it.
  CREATE TABLE visits (
    id TEXT PRIMARY KEY, resident_id TEXT NOT NULL REFERENCES residents(id), visited_at INTEGER NOT NULL,
    visitor_name TEXT NOT NULL, visitor_contact_id TEXT, recorded_by_user TEXT, recorded_by TEXT NOT NULL,
    mode TEXT NOT NULL, health TEXT NOT NULL, health_note TEXT, mood TEXT NOT NULL, safety_json TEXT, hygiene TEXT,
    needs TEXT, measures TEXT, follow_up TEXT, notes TEXT, created_at INTEGER NOT NULL
  );
  CREATE INDEX visits_resident ON visits (resident_id, visited_at);

  -- A visit owed outside the regular frequency: a resolved alarm asks for one within 24 hours.
  -- Closed by the first visit recorded after it was opened.
  CREATE TABLE visit_follow_ups (
    alarm_id TEXT PRIMARY KEY, resident_id TEXT NOT NULL REFERENCES residents(id), created_at INTEGER NOT NULL,
    due_at INTEGER NOT NULL, visit_id TEXT, closed_at INTEGER
  );
  CREATE INDEX visit_follow_ups_open ON visit_follow_ups (resident_id, due_at) WHERE visit_id IS NULL;
  `,
  `
  -- migration 14: channels and failover, voice calls, group posts, delivery receipts (issue 12, docs/channels.md)
  -- What the notice is for: chain (to a contact of the chain; the escalation waits for it), call (a voice call besides
  -- the SMS), group (a post to the village's duty group).
  ALTER TABLE notifications ADD COLUMN purpose TEXT NOT NULL DEFAULT 'chain';
  -- The channels it may go through in order (JSON array of channel names; NULL: its channel alone), and where it is now.
  ALTER TABLE notifications ADD COLUMN route_json TEXT;
  ALTER TABLE notifications ADD COLUMN route_step INTEGER NOT NULL DEFAULT 0;
  -- Since when it is on its channel, and when it moves to the next if still unsent (NULL: on its last channel).
  ALTER TABLE notifications ADD COLUMN channel_since INTEGER;
  ALTER TABLE notifications ADD COLUMN failover_at INTEGER;
  -- Its moves: [{at, from, to, reason}].
  ALTER TABLE notifications ADD COLUMN failovers_json TEXT;
  -- The provider's receipt: NULL until sent; waiting, delivered, failed; none (the channel gives no receipts); unknown (gave up asking).
  ALTER TABLE notifications ADD COLUMN delivery TEXT;
  ALTER TABLE notifications ADD COLUMN delivery_at INTEGER;
  ALTER TABLE notifications ADD COLUMN delivery_error TEXT;
  ALTER TABLE notifications ADD COLUMN delivery_checks INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE notifications ADD COLUMN delivery_next_at INTEGER;
  -- A critical case's SMS not delivered within the deadline (or failed): not reached, the escalation moved on.
  ALTER TABLE notifications ADD COLUMN unreached_at INTEGER;
  -- Sent inside another notice's message (several alarms for one number in one SMS): that notice's id; '-': never bundle it again.
  ALTER TABLE notifications ADD COLUMN bundle_of TEXT;
  UPDATE notifications SET channel_since = created_at;
  CREATE INDEX notifications_bundle ON notifications (bundle_of) WHERE bundle_of IS NOT NULL;
  CREATE INDEX notifications_channel_claim ON notifications (channel, status, priority, next_attempt_at, created_at);
  CREATE INDEX notifications_failover ON notifications (failover_at) WHERE status = 'pending' AND failover_at IS NOT NULL;
  CREATE INDEX notifications_delivery ON notifications (delivery_next_at) WHERE delivery = 'waiting';
  CREATE INDEX notifications_undelivered ON notifications (sent_at) WHERE delivery = 'waiting' AND unreached_at IS NULL AND purpose = 'chain' AND priority = 0;
  `,
  `
  -- migration 15: the SMS reminder the evening before visits fall due (issue 11, docs/township.md "The visit reminder").
  -- One row per (helper's number, due date), written in the transaction that decides to send it: nobody gets two for
  -- the same day, across restarts. status: pending (decided, not yet sent: a crash leaves it so and the start sends
  -- it), sent, failed (the provider refused it, or three attempts failed), expired (still pending after its due date).
  CREATE TABLE visit_reminders (
    id TEXT PRIMARY KEY, phone TEXT NOT NULL, due_date TEXT NOT NULL, helper_name TEXT NOT NULL,
    resident_ids_json TEXT NOT NULL, timezone TEXT NOT NULL, params_json TEXT NOT NULL, text TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER,
    channel TEXT, provider_ref TEXT, last_code TEXT, last_error TEXT,
    decided_at INTEGER NOT NULL, sent_at INTEGER, updated_at INTEGER NOT NULL,
    UNIQUE (phone, due_date)
  );
  CREATE INDEX visit_reminders_pending ON visit_reminders (next_attempt_at) WHERE status = 'pending';
  `,
  `
  -- migration 16: a voice call found by the provider's CallId, as a pushed receipt names it (press 1 to take it,
  -- issue 12, docs/voice-calls.md). Without it every push scanned the whole notifications table.
  CREATE INDEX notifications_call_ref ON notifications (channel, provider_ref) WHERE purpose = 'call' AND provider_ref IS NOT NULL;
  `,
  `
  -- migration 17: how a resolved case ended, as whoever resolved it said: 'real' or 'falseAlarm' (docs/reports.md, the
  -- share of false alarms). NULL while open, for a cancelled case, and for cases resolved before this migration or
  -- by an API client that did not say.
  ALTER TABLE alarms ADD COLUMN outcome TEXT;
  `,
];
