// The on-host store: verify-while-extracting into a staging folder, fsync, rename into
// `var/lib/airlock/NAME/VERSION`, switch `current` atomically, roll back; the host probe that
// picks a runtime variant. Paths come from `AirlockCore.HostLayout`.
//
// Not built yet: issue #4 (Install, activate and roll back on the target host).
