import type { CommandName } from './args.js';
import type { Command } from './command-context.js';
import { deleteCommand, rotateKeyCommand, serveCommand } from './commands-admin.js';
import { createCommand, recordCommand, updateCommand } from './commands-login.js';
import { listCommand, showCommand, validateCommand } from './commands-read.js';
import { exportCommand, importCommand } from './commands-state.js';
import { completionScript } from './completion.js';
import { EXIT } from './exit-codes.js';

export type { CliIo, Command, CommandContext } from './command-context.js';

/** Every command, by name. */
export const COMMAND_HANDLERS: Readonly<Record<CommandName, Command>> = {
  list: listCommand,
  show: showCommand,
  validate: validateCommand,
  create: createCommand,
  record: recordCommand,
  update: updateCommand,
  delete: deleteCommand,
  export: exportCommand,
  import: importCommand,
  'rotate-key': rotateKeyCommand,
  serve: serveCommand,
  completion: async (ctx) => {
    ctx.io.stdout.write(completionScript(ctx.positionals.shell!));
    return EXIT.OK;
  },
};
