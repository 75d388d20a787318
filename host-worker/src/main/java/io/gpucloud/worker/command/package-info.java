/**
 * Running hardware command-line tools with a time limit. Tools and their simulators both answer with a
 * {@link io.gpucloud.worker.command.CommandResult}, so the parsers never know which one they talk to.
 */
package io.gpucloud.worker.command;
