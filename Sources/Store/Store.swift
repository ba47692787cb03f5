// The on-host store: verify-while-extracting into a staging folder, fsync, rename into
// `var/lib/airlock/NAME/VERSION`, switch `current` atomically, roll back; the host probe that
// picks a runtime variant. Paths come from `AirlockCore.HostLayout`.
//
// Built so far (issue #4): the host probe (`HostProbe` → `HostFacts`) and the runtime choice
// (`RuntimeSelector`, requirements in `RuntimeRequirement`). Install, activate and roll back
// are not built yet.
