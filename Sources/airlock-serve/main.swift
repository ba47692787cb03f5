import AirlockCommands

await CommandMain.run(AirlockServeCommand.self)
