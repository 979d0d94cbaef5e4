package io.proxstream.actors.cluster;

import org.apache.pekko.actor.typed.ActorSystem;

/**
 * A process that hosts one {@link ShardWorker} as the guardian of actor system {@code shard} at {@code host:port} (Artery
 * TCP with the cluster's serializers, no cluster membership, no TLS): what {@code bench cluster} starts in each network
 * namespace to measure the column-sharded round between processes. Not a user command: a run's workers will be
 * {@code node}s once a coordinator drives the round. Runs until killed.
 */
public final class ShardWorkerNode {
    private ShardWorkerNode() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: ShardWorkerNode HOST PORT");
            System.exit(2);
        }
        int port;
        try {
            port = Integer.parseInt(args[1]);
        } catch (NumberFormatException e) {
            System.err.println("ShardWorkerNode: port '" + args[1] + "' is not a number");
            System.exit(2);
            return;
        }
        ActorSystem<ShardWorker.Command> system = ActorSystem.create(ShardWorker.create(), "shard",
                ShardedDriver.remoteConfig(args[0], port));
        System.out.println("shard worker at " + args[0] + ":" + port);
        system.getWhenTerminated().toCompletableFuture().get();
    }

    /** The address of the worker a {@link #main} started at {@code host:port}, as a driver resolves it. */
    static String path(String host, int port) {
        return "pekko://shard@" + host + ":" + port + "/user";
    }
}
