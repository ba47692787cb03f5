// The append-only, hash-chained audit log: what is where.
//
// Files (names in `AuditLayout`):
//   ROOT/var/log/airlock/audit-NNNNNN.jsonl    segments, from 000001; all but the last sealed
//   ROOT/var/log/airlock/audit.lock            flock(2): exclusive for writers, shared for verify
//   ROOT/var/log/airlock/audit-checkpoint.json the latest signed checkpoint (one JSON line)
//   ROOT/var/lib/airlock/audit-key.pem         host audit key, ECDSA P-384, 0600, made on first use
//   ROOT/var/lib/airlock/audit-key.pub.pem     its public half: what `verify` needs
//
// Records (`AuditRecord`, built from typed `AuditEvent`s): one canonical JSON object per line,
// keys sorted, no whitespace, `\n`; `prev` is the SHA-256 of the previous line's bytes (its `\n`
// included), 64 zeros for the first record of the log; the chain runs across segments.
//
// Checkpoints (`AuditCheckpoint`): records of their own (`audit.checkpoint`), signed over
// `{chain, segment, seq, time}`, at every multiple of `checkpointInterval` (1000), after the first
// record written `checkpointSeconds` (300) after the latest one (checked at append time;
// `checkpointIfDue()` for long-running writers' timers), and as the last record of every sealed
// segment (size, 64 MiB by default, or a new UTC day).
//
// Writing (`AuditLogWriter`): group commit (one write(2) and one fdatasync per flush), flock
// across processes with the tail re-read under it, one unfinished last line cut away on open and
// recorded (`audit.recovered`), failures thrown as `AirlockError` so callers fail closed.
// Committed records are then copied to journald (`AuditJournal`, over `Systemd.JournalSink`)
// when its socket exists, off the appenders' path; a journald failure never fails an append.
//
// Retention (`AuditPolicy`, ROOT/etc/airlock/audit.yaml; `AuditLogWriter.applyRetention`, run by
// `airlock-audit retention`): expired sealed segments removed whole, oldest first, each removal
// recorded first (`audit.retention` with the segment's seq range, last chain hash and signed
// seal line).
//
// Verifying (`AuditLogVerifier`): `.intact(records:lastSeq:lastCheckpoint:)` or
// `.damaged(AuditDamage)` naming the first bad record (segment, line, seq) and the kind. A log
// starting after segment 1 is anchored on the `audit.retention` record of the segment before it.
// Fast path: `LineScanner` reads lines in the writer's own shape without allocating; segments
// are cut into pieces hashed and parsed on every core, then walked in order.
//
// Producers: every admin command (`AdminAudit`) and the gateway (one record per request);
// segments the gateway's user sealed are handed to root, read-only, by `airlock-audit seal`
// (`AuditSeal`).
