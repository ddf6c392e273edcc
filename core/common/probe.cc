#include "core/common/probe.h"

namespace dray {

const char* const kAllProbes[] = {
    "task.retry.worker_died",       // a task's worker crashed; retried
    "task.retry.node_died",         // a task was on a node declared dead; retried
    "task.retry.forwarded_to_dead",  // forwarded to a node already dead; retried
    "task.retry.argument_lost",     // its argument could not be fetched; retried
    "task.failed.out_of_retries",   // WorkerCrashedError (or the loss) reached the user
    "task.result.late_attempt",     // an older attempt's result completed the task
    "task.result.duplicate",        // a second result for a finished task
    "object.reconstruct",           // a lost stored object's task re-ran
    "object.lost.put",              // a put object lost every copy
    "object.lost.no_lineage",       // lineage dropped or retries exhausted
    "object.fetch_retry",           // a fetch failed before the owner knew of a death
    "object.borrower_asks_again",   // a borrower's fetch failed; asked the owner again
    "owner.died.borrowed",          // OwnerDiedError for a borrowed ref
    "owner.borrower_died",          // a dead borrower's registrations were dropped
    "node.pull.failover",           // a pull moved to another copy after a death
    "node.pull.failed",             // a pull gave up
    "node.store.dead_owner_freed",  // a dead owner's stored objects were freed
    "node.waiting_task_of_another_owner",  // a task id came from two processes (its parent ran twice)
    "node.store.owner_added",       // a retried task's process stored again an object its dead attempt made
    "gcs.node_declared_dead",       // health checks declared a node dead
    "gcs.fenced_message",           // a dead node's message was ignored (and it was told)
    "node.fenced_itself",           // a node learned it was declared dead and stopped
    "task.result.from_dead_node",   // a result from a fenced node's worker was ignored
    "actor.restarted",              // an actor restarts (worker or node died, or Kill with restart)
    "actor.restart.worker_died",    // ... because its worker died
    "actor.restart.creation_node_died",  // ... because the node creating it died
    "actor.owner_died",             // an actor died with its owner
    "actor.killed",                 // Kill(no_restart)
    "actor.killed_restart",         // Kill with restart allowed
    "actor.stale_incarnation_stopped",  // a replaced incarnation's creation finished; stopped
    "actor.subscribed_before_registration",  // a handle was used before its actor was registered
    "actor.dropped_before_registration",     // every handle went before the constructor's args were ready
    "actor.call.retried",           // a call lost with an incarnation was sent to the next one
    "actor.call.failed",            // a call lost with an incarnation failed (no retries left)
    "actor.call.from_superseded_caller",  // a call from a retried caller task's older attempt was dropped
    "node.actor_worker_died",       // an actor's worker process died
    "node.actor_stopped",           // a node stopped an actor's worker (kill, death, lease)
    "node.actor_call_unavailable",  // a call reached a node without its incarnation
    "node.actor_call_from_dead_caller",  // a call from a dead process was dropped
    "node.waiting_attempt_superseded",   // a newer attempt replaced one waiting for its arguments
    "node.stale_attempt_dropped",        // an older attempt arrived where a newer one waits
    "node.submit_from_dead_node_dropped",  // a task spilled by a node declared dead was dropped
    "node.lease_expired_actors_stopped",  // a node cut off too long stopped its actors
    "node.store.evicted",           // a secondary copy was evicted under memory pressure
    "node.store.spilled",           // a primary copy was spilled to disk
    "node.store.spilled_again",     // a restored copy left memory again (its spill file was kept)
    "node.store.restore",           // a spilled copy was asked back from disk
    "node.store.restore_failed",    // a spilled copy could not be read back (the copy is lost)
    "node.store.spill_deleted",     // a freed (or dropped) object's spill file was deleted
    "node.store.fallback",          // stored past capacity: nothing left to evict or spill
    "node.store.pull_waits_for_restore",  // a pull from another node waited for a restore
    "node.store.arg_restore_before_dispatch",  // a ready task's argument was spilled; restored first
    "object.last_copy_dropped",     // the owner heard its object's last copy was evicted or lost
    "node.late_registration_dropped",     // a worker's registration came after its death; stopped
    "buggify.node.tiny_pull_chunks",  // buggify: an object served in tiny chunks
    "buggify.node.short_pull_retry",  // buggify: a missed pull asked again after 1 us
    "buggify.node.late_report",       // buggify: a resource report sent 100x later
    "buggify.owner.retry_backoff",    // buggify: a retried task resubmitted 1 to 100 ms later
    "buggify.owner.reconstruction_delayed",  // buggify: a lineage re-run submitted 1 to 100 ms later
    "buggify.owner.resubmit",         // buggify: a task sent again as a newer attempt (the older maybe once more)
    "buggify.gcs.extra_health_miss",  // buggify: a node declared dead one health period later
    "buggify.gcs.view_sent_twice",    // buggify: a cluster view sent twice
};
const int kNumProbes = sizeof(kAllProbes) / sizeof(kAllProbes[0]);

}  // namespace dray
