import AirlockCommands

// One program for the four: the name it was started by (a link's name) picks the command.
switch CommandMain.invokedName() {
case "airlock-pack": await CommandMain.run(AirlockPackCommand.self)
case "airlock-serve":
    AirlockServeCommand.prepareProcess()
    await CommandMain.run(AirlockServeCommand.self)
case "airlock-audit": await CommandMain.run(AirlockAuditCommand.self)
case "airlock": await CommandMain.run(AirlockCommand.self)
case let other: CommandMain.exitUnknownName(other, known: ["airlock", "airlock-pack", "airlock-serve", "airlock-audit"])
}
