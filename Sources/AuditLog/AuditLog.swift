// The append-only, hash-chained audit log under `var/log/airlock/` with signed checkpoints,
// segment rotation and retention, and the search/export/report behind `airlock-audit`.
//
// Not built yet: issue #7 (Tamper-evident local audit log).
