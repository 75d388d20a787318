/**
 * What every hardware action shares: a {@link io.gpucloud.worker.action.StepLog} recording each command
 * as an operator would type it, and {@link io.gpucloud.worker.action.ActionException} carrying the
 * stable error code a failed action reports to the control plane ({@link io.gpucloud.worker.action.ErrorCodes}).
 */
package io.gpucloud.worker.action;
