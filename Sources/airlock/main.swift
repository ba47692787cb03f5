import AirlockCommands

await CommandMain.run(AirlockCommand.self)
