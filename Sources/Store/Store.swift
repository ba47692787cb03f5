// The on-host store: verify-while-extracting into a staging folder, fsync, rename into
// `var/lib/airlock/NAME/VERSION`, switch `current` atomically, roll back; the host probe that
// picks a runtime variant. Paths come from `AirlockCore.HostLayout`.
//
// `BundleStore` installs, activates, rolls back and removes; `StoreMaintenance` is doctor's
// view; the host probe (`HostProbe` → `HostFacts`) and the runtime choice (`RuntimeSelector`,
// requirements in `RuntimeRequirement`) decide which variant a host runs.
