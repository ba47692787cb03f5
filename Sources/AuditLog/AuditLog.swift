// The append-only, hash-chained audit log (issue #7): what is where.
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
// `{chain, segment, seq, time}`, at every multiple of `checkpointInterval` (1000) and as the
// last record of every sealed segment (size, 64 MiB by default, or a new UTC day).
//
// Writing (`AuditLogWriter`): group commit (one write(2) and one fdatasync per flush), flock
// across processes with the tail re-read under it, one unfinished last line cut away on open and
// recorded (`audit.recovered`), failures thrown as `AirlockError` so callers fail closed.
//
// Verifying (`AuditLogVerifier`): `.intact(records:lastSeq:lastCheckpoint:)` or
// `.damaged(AuditDamage)` naming the first bad record (segment, line, seq) and the kind.
//
// Not built yet (rest of issue #7): the producers (admin commands, gateway), `airlock-audit`
// verbs (verify, checkpoint, search, export, report), the journald copy, retention (expired
// segments removed whole, a verify anchor for a log that no longer starts at 000001), sealed
// segments made read-only to the gateway's user, and checkpoints every T seconds.
