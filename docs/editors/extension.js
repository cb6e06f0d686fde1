// The smallest VS Code extension for agqc: start `agqc lsp` for .agq files (docs/editors.md).
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const [command, ...args] = vscode.workspace.getConfiguration("agq").get("server.command", ["agqc", "lsp"]);
  client = new LanguageClient("agq", "agqc", { command, args },
    { documentSelector: [{ scheme: "file", language: "agq" }, { scheme: "untitled", language: "agq" }] });
  client.start();
  context.subscriptions.push({ dispose: () => client && client.stop() });
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
