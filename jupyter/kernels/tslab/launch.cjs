// Starts this repository's own tslab (node_modules/tslab) as the Jupyter kernel, wherever the clone lives.
// kernel.json passes "{resource_dir}/launch.cjs": jupyter_client (>= 7) replaces {resource_dir} with this folder,
// so no absolute path is committed. Used through JUPYTER_PATH=<repo>/jupyter; see scripts/run-notebooks.ts.
'use strict';
const path = require('node:path');

const repo = path.resolve(__dirname, '..', '..', '..');
const connectionFile = process.argv[2];
if (!connectionFile) {
  console.error('usage: node launch.cjs <connection_file> (Jupyter starts this kernel; it is not a command)');
  process.exit(2);
}
let tslab;
try {
  tslab = require(require.resolve('tslab/dist/main.js', { paths: [repo] }));
} catch (e) {
  console.error(`tslab is not installed in ${repo}: run \`npm ci\` there (${e.message.split('\n')[0]})`);
  process.exit(1);
}
if (process.env.GLIT_KERNEL_STDERR === '1') teeCellStderr();
announceExecutionCounts(require(require.resolve('tslab/dist/jupyter.js', { paths: [repo] })));
trimKernelFrames(path.dirname(require.resolve('tslab/package.json', { paths: [repo] })));
reloadImporters(require(require.resolve('tslab/dist/converter.js', { paths: [repo] })));
// startKernel is tslab's stable entry point (its global install calls a local one through it). enableFindLocal: false
// keeps this exact copy instead of searching node_modules above the notebook's folder.
tslab.startKernel({ configPath: connectionFile, enableFindLocal: false });

/**
 * Copies what cells write to stderr, tslab's error reports included, to the kernel's own stderr. tslab's execute_reply
 * carries no error name or message, so nbconvert reports a failed cell without saying why; with this copy its log does.
 * tslab assigns process.stderr.write before each cell (to send the text to the notebook): the setter keeps that writer.
 */
function teeCellStderr() {
  const real = process.stderr.write.bind(process.stderr);
  let cell = real;
  const tee = (chunk, encoding, callback) => {
    if (cell !== real) real(chunk, typeof encoding === 'string' ? encoding : undefined); // the callback is the cell writer's
    return cell(chunk, encoding, callback);
  };
  Object.defineProperty(process.stderr, 'write', { configurable: true, get: () => tee, set: (writer) => (cell = writer) });
}

/**
 * Broadcasts each cell's execute_input with its execution count, as the Jupyter protocol asks and tslab does not:
 * nbclient (nbconvert --execute) takes the count only from there, so executed copies and their HTML showed `In [ ]:`.
 * The count is known when the cell leaves tslab's queue (handleExecuteImpl), the message to answer only before it
 * enters (ZmqServer.handleExecute): the request object carries it from one to the other.
 */
function announceExecutionCounts({ ZmqServer, JupyterHandlerImpl }) {
  const announce = Symbol('announce execute_input');
  const handleExecute = ZmqServer.prototype.handleExecute;
  ZmqServer.prototype.handleExecute = function (sock, msg) {
    msg.content[announce] = (count) => {
      const input = msg.createReply();
      input.header.msg_type = 'execute_input';
      input.content = { code: msg.content.code, execution_count: count };
      input.signAndSend(this.connInfo.key, this.iopub);
    };
    return handleExecute.call(this, sock, msg);
  };
  const handleExecuteImpl = JupyterHandlerImpl.prototype.handleExecuteImpl;
  JupyterHandlerImpl.prototype.handleExecuteImpl = function (req, ...rest) {
    req[announce]?.(this.execCount + 1);
    return handleExecuteImpl.call(this, req, ...rest);
  };
}

/**
 * Leaves the kernel's own frames (tslab's executor and queue, node:vm, this file) out of error stacks, so that a failed
 * cell shows the frames of lib/ and of the cell only. Only the listing changes: messages and error types stay.
 */
function trimKernelFrames(tslabDir) {
  const kernelFrame = (file) =>
    Boolean(file) && (file.startsWith('node:') || file.startsWith(tslabDir + path.sep) || file === __filename);
  Error.prepareStackTrace = (error, frames) => {
    const kept = frames.filter((frame) => !kernelFrame(frame.getFileName()));
    return [Error.prototype.toString.call(error), ...kept.map((frame) => `    at ${frame}`)].join('\n');
  };
}

/** Rerunning a cell loads afresh every lib/ module that imports an edited one, not only the edited ones (reload.cjs). */
function reloadImporters(converterModule) {
  const { createReloader } = require('./reload.cjs');
  const createConverter = converterModule.createConverter;
  converterModule.createConverter = (options) => {
    const converter = createConverter(options);
    const widen = createReloader();
    const convert = converter.convert;
    converter.convert = (...args) => {
      const converted = convert(...args);
      return converted.sideOutputs ? { ...converted, sideOutputs: widen(converted.sideOutputs) } : converted;
    };
    return converter;
  };
}
