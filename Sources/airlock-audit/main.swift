import AirlockCommands

await CommandMain.run(AirlockAuditCommand.self)
