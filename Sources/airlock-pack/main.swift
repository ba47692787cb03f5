import AirlockCommands

await CommandMain.run(AirlockPackCommand.self)
