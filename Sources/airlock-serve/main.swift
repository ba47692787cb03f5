import AirlockCommands

AirlockServeCommand.prepareProcess()
await CommandMain.run(AirlockServeCommand.self)
