import type { ServerWritableStream } from '@grpc/grpc-js';
import { type ContractImpl, endWithError, toServiceError, unaryHandler } from '@berth/grpc';
import type { supervisorV1 } from '@berth/proto';
import type { Containers } from '../domain/containers';
import { archiveService, type UploadLimits } from './archive-service';
import type { Peers } from '@berth/clients';
import type { ContainerRoots } from '../domain/container-root';
import { inspect, summary } from '../domain/inspect';
import type { Lifecycle } from '../domain/lifecycle';
import { statsSample } from '../domain/container-stats';
import { type Execs, inspectExec } from '../domain/execs';
import { conflict } from '@berth/errors';
import type { ContainerRecord } from '../domain/model';
import type { NetworkConnections } from '../domain/network-connections';

function toProto(c: ContainerRecord): supervisorV1.Container {
  return {
    id: c.id,
    name: c.name,
    image: c.image,
    imageId: c.imageId,
    status: c.state.Status,
    pid: c.state.Pid,
    exitCode: c.state.ExitCode,
    createdUnixMs: Date.parse(c.created),
    startedUnixMs: Math.max(0, Date.parse(c.state.StartedAt)),
    finishedUnixMs: Math.max(0, Date.parse(c.state.FinishedAt)),
    labels: c.config.Labels,
    configJson: Buffer.from(JSON.stringify({ ...c.config, HostConfig: c.hostConfig })),
    inspectJson: Buffer.from(JSON.stringify(inspect(c))),
    summaryJson: Buffer.from(JSON.stringify(summary(c))),
  };
}

export function containersService(containers: Containers, life: Lifecycle, execs: Execs, conns: NetworkConnections, peers: Peers, roots: ContainerRoots, uploads: UploadLimits = { maxExpandedBytes: 0, dir: '/' }): ContractImpl<supervisorV1.ContainersServer> {
  return {
    connectNetwork: unaryHandler(async (req: supervisorV1.ConnectNetworkRequest) => {
      await conns.connect(req.reference, req.network, req.ipv4Address, req.aliases);
      return {};
    }),
    disconnectNetwork: unaryHandler(async (req: supervisorV1.DisconnectNetworkRequest) => {
      await conns.disconnect(req.reference, req.network);
      return {};
    }),
    createExec: unaryHandler((req: supervisorV1.CreateExecRequest) => ({ id: execs.create(req.reference, req.bodyJson) })),
    startExec: unaryHandler(async (req: supervisorV1.ExecRequest) => {
      const e = execs.get(req.id);
      if (e.started) throw conflict(`exec ${e.id} has already been started`);
      const c = containers.get(e.containerId);
      if (!c.state.Running) throw conflict(`container ${c.id} is not running`);
      const { address } = await life.shimAddress(c.id);
      e.started = true;
      let processJson: Buffer;
      try {
        processJson = Buffer.from(JSON.stringify(execs.process(e, c)));
      } catch (err) {
        // Docker's code for an exec that could not be set up (e.g. an unknown user).
        e.exitCode = 126;
        throw err;
      }
      e.running = true;
      return {
        shimAddress: address,
        containerId: c.id,
        processJson,
        tty: e.config.Tty ?? false,
        attachStdin: e.config.AttachStdin ?? false,
        attachStdout: e.config.AttachStdout ?? false,
        attachStderr: e.config.AttachStderr ?? false,
      };
    }),
    inspectExec: unaryHandler(async (req: supervisorV1.ExecRequest) => {
      const e = execs.get(req.id);
      await life.refreshExec(e);
      return { inspectJson: Buffer.from(JSON.stringify(inspectExec(e, containers.get(e.containerId)))) };
    }),
    listContainers: unaryHandler((req: supervisorV1.ListContainersRequest) => ({ containers: containers.list(req.all).map(toProto) })),
    getContainer: unaryHandler((req: supervisorV1.GetContainerRequest) => toProto(containers.get(req.reference))),
    createContainer: unaryHandler((req: supervisorV1.CreateContainerRequest) => life.create(req.name, req.bodyJson)),
    startContainer: unaryHandler((req: supervisorV1.StartContainerRequest) => life.start(req.reference)),
    stopContainer: unaryHandler((req: supervisorV1.StopContainerRequest) => life.stop(req.reference, req.timeoutSeconds, req.signal)),
    restartContainer: unaryHandler(async (req: supervisorV1.StopContainerRequest) => {
      await life.restart(req.reference, req.timeoutSeconds, req.signal);
      return { already: false };
    }),
    killContainer: unaryHandler(async (req: supervisorV1.KillContainerRequest) => {
      await life.kill(req.reference, req.signal);
      return {};
    }),
    deleteContainer: unaryHandler(async (req: supervisorV1.DeleteContainerRequest) => {
      await life.delete(req.reference, req.force, req.removeVolumes);
      return {};
    }),
    renameContainer: unaryHandler(async (req: supervisorV1.RenameContainerRequest) => {
      const id = containers.get(req.reference).id;
      life.rename(req.reference, req.newName);
      await conns.renamed(id);
      return {};
    }),
    pauseContainer: unaryHandler(async (req: supervisorV1.GetContainerRequest) => {
      await life.pause(req.reference, true);
      return {};
    }),
    unpauseContainer: unaryHandler(async (req: supervisorV1.GetContainerRequest) => {
      await life.pause(req.reference, false);
      return {};
    }),
    waitContainer(call: ServerWritableStream<supervisorV1.WaitContainerRequest, supervisorV1.WaitContainerResponse>) {
      // A lookup that throws at once (no such container) must end the call, not escape the handler.
      Promise.resolve()
        .then(() => life.wait(call.request.reference, call.request.condition, () => call.write({ registered: true, exitCode: 0, error: '' })))
        .then(
          (r) => {
            call.write({ registered: false, exitCode: r.exitCode, error: r.error });
            call.end();
          },
          (err: unknown) => endWithError(call, err),
        );
    },
    shimAddress: unaryHandler((req: supervisorV1.GetContainerRequest) => life.shimAddress(req.reference, req.servingOnly ?? false)),
    topContainer: unaryHandler((req: supervisorV1.TopContainerRequest) => life.top(req.reference, req.psArgs)),
    pruneContainers: unaryHandler((req: supervisorV1.PruneContainersRequest) => life.prune(req.filtersJson)),
    updateContainer: unaryHandler((req: supervisorV1.UpdateContainerRequest) => life.update(req.reference, req.bodyJson)),
    containerStats: unaryHandler((req: supervisorV1.GetContainerRequest) => {
      const s = statsSample(containers.get(req.reference));
      return { running: s.running, statsJson: Buffer.from(JSON.stringify(s.stats)) };
    }),
    ...archiveService(containers, peers, life, roots, uploads),
  };
}
