# The seed examples in the simulator (included by tests/CMakeLists.txt, which
# has found GTest and included GoogleTest).
if(TARGET dray_examples)
  add_executable(examples_test examples_test.cc)
  target_compile_options(examples_test PRIVATE ${DRAY_WARNINGS})
  target_link_libraries(examples_test PRIVATE dray_examples GTest::gtest_main)
  gtest_discover_tests(examples_test DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 600)

  # Each example executable runs and exits 0 (DRAY_SIM picks the simulator);
  # tiny_tasks runs the seed's 100000 tasks (a few seconds of wall time).
  get_property(_dray_example_names GLOBAL PROPERTY DRAY_EXAMPLE_NAMES)
  foreach(name IN LISTS _dray_example_names)
    if(TARGET ${name})
      add_test(NAME example_program.${name} COMMAND ${name})
      set_tests_properties(example_program.${name} PROPERTIES
        ENVIRONMENT "DRAY_SIM=seed=1,nodes=3,cpus=2" TIMEOUT 300)
    endif()
  endforeach()
  # The flag works as well as the environment.
  if(TARGET four_tasks)
    add_test(NAME example_program.four_tasks_flag COMMAND four_tasks --dray-sim=seed=2,nodes=1,cpus=4)
    set_tests_properties(example_program.four_tasks_flag PROPERTIES PASS_REGULAR_EXPRESSION "results = \\[0, 1, 2, 3\\]")
  endif()
endif()

if(TARGET dray-sim)
  add_test(NAME dray_sim.four_tasks COMMAND dray-sim --seed 1 --nodes 3 --cpus 2 --workload four_tasks)
  set_tests_properties(dray_sim.four_tasks PROPERTIES PASS_REGULAR_EXPRESSION "seed=1 workload=four_tasks ok")
  add_test(NAME dray_sim.seed_range COMMAND dray-sim --seeds 1-4 --nodes 3 --cpus 2 --workload map_reduce)
  set_tests_properties(dray_sim.seed_range PROPERTIES PASS_REGULAR_EXPRESSION "4 of 4 runs passed")
  add_test(NAME dray_sim.random_dag COMMAND dray-sim --seeds 1-3 --nodes 4 --cpus 2 --workload random_dag --tasks 50)
  set_tests_properties(dray_sim.random_dag PROPERTIES PASS_REGULAR_EXPRESSION "3 of 3 runs passed")
  # A small object store (1 MiB per node, every return stored): objects are
  # evicted, spilled and restored, and every result is still right.
  add_test(NAME dray_sim.random_dag_small_store
           COMMAND dray-sim --seeds 1-50 --nodes 3 --cpus 2 --workload random_dag --tasks 150 --quiet
                   --spec store_kb=1024,inline_kb=0)
  set_tests_properties(dray_sim.random_dag_small_store PROPERTIES PASS_REGULAR_EXPRESSION "50 of 50 runs passed")
  add_test(NAME swarm.random_dag_small_store
           COMMAND dray-sim --workload random_dag --tasks 200 --seeds 1-100 --nodes 4 --cpus 2 --quiet
                   --spec faults=small_store+worker_crash+node_crash,fault_every_us=2000,faults_until_ms=300,task_retries=-1,inline_kb=0,head_cpus=0)
  set_tests_properties(swarm.random_dag_small_store PROPERTIES
                       PASS_REGULAR_EXPRESSION "100 of 100 runs passed \\([1-9][0-9]* injected crashes\\)")
  # Swarms with injected worker crashes (docs/fault-tolerance.md): every run
  # must give the right results with unlimited retries, and crashes must
  # actually happen (the count is printed at the end).
  add_test(NAME swarm.random_dag_worker_crashes
           COMMAND dray-sim --workload random_dag --tasks 300 --seeds 1-300 --nodes 4 --cpus 2 --quiet
                   --spec faults=workers,fault_every_us=2000,faults_until_ms=500,task_retries=-1)
  set_tests_properties(swarm.random_dag_worker_crashes PROPERTIES
                       PASS_REGULAR_EXPRESSION "300 of 300 runs passed \\([1-9][0-9]* injected crashes\\)")
  add_test(NAME swarm.random_dag
           COMMAND dray-sim --workload random_dag --tasks 300 --seeds 1-300 --nodes 4 --cpus 2 --quiet
                   --spec faults=swarm,faults_until_ms=500,task_retries=-1,inline_kb=0,head_cpus=0)
  set_tests_properties(swarm.random_dag PROPERTIES
                       PASS_REGULAR_EXPRESSION "300 of 300 runs passed \\([1-9][0-9]* injected crashes\\)")
  add_test(NAME swarm.examples
           COMMAND dray-sim --workload all --seeds 1-10 --nodes 3 --cpus 2 --quiet
                   --spec faults=swarm,faults_until_ms=1000,task_retries=-1)
  set_tests_properties(swarm.examples PROPERTIES
                       PASS_REGULAR_EXPRESSION "240 of 240 runs passed \\([1-9][0-9]* injected crashes\\)")
  # Actors under faults (docs/actors.md): random calls from the driver and
  # from tasks that got the handles in a value, one Kill with restart, actors
  # restarted and calls retried without limit; the simulator checks the actor
  # invariants (one incarnation at a time, each caller's order, no call run
  # twice but as a retry). No CPUs on the head, so actors live on the nodes
  # that crash and get cut off.
  add_test(NAME swarm.actors
           COMMAND dray-sim --workload actors --seeds 1-300 --nodes 4 --cpus 2 --quiet
                   --spec faults=swarm,faults_until_ms=500,task_retries=-1,head_cpus=0)
  set_tests_properties(swarm.actors PROPERTIES
                       PASS_REGULAR_EXPRESSION "300 of 300 runs passed \\([1-9][0-9]* injected crashes\\)")
  # The documented errors under faults (examples/recovery_workload.h): limited
  # retries, worker-owned refs and actors, killed actors, actors made from
  # pending arguments. An error passes only where faults explain it; without
  # faults, every run must give only values (and ActorDiedError after Kill).
  # Seeds 22 and 108 caught a retried task's actor reusing its first
  # attempt's id, and early actor subscribers lost in a control-service restart.
  add_test(NAME swarm.recovery
           COMMAND dray-sim --workload recovery --seeds 1-200 --nodes 4 --cpus 2 --quiet
                   --spec faults=swarm,faults_until_ms=500,task_retries=-1,head_cpus=0)
  set_tests_properties(swarm.recovery PROPERTIES
                       PASS_REGULAR_EXPRESSION "200 of 200 runs passed \\([1-9][0-9]* injected crashes\\)")
  # A retried task's put (the same id as its dead attempt's) was freed with
  # the dead attempt's process, under its live owner, whose use tasks were
  # then retried forever (worker_put_fan_out units; 39 and 214 failed the
  # same way, and are in swarm.recovery's seeds).
  add_test(NAME dray_sim.recovery_seed655_put_of_a_retried_task
           COMMAND dray-sim --seed 655 --nodes 4 --cpus 2 --workload recovery
                   --spec faults=swarm,faults_until_ms=500,task_retries=-1,head_cpus=0)
  set_tests_properties(dray_sim.recovery_seed655_put_of_a_retried_task PROPERTIES
                       PASS_REGULAR_EXPRESSION "seed=655 workload=recovery ok")
  # The retried fan-out's use tasks have the ids its dead attempt's had: one
  # was dropped as an older attempt behind the dead process's waiting one.
  add_test(NAME dray_sim.recovery_seed843_task_of_a_retried_task
           COMMAND dray-sim --seed 843 --nodes 4 --cpus 2 --workload recovery
                   --spec faults=swarm,faults_until_ms=500,task_retries=-1,head_cpus=0)
  set_tests_properties(dray_sim.recovery_seed843_task_of_a_retried_task PROPERTIES
                       PASS_REGULAR_EXPRESSION "seed=843 workload=recovery ok")
  add_test(NAME dray_sim.recovery_without_faults
           COMMAND dray-sim --workload recovery --seeds 1-30 --nodes 4 --cpus 2 --quiet)
  set_tests_properties(dray_sim.recovery_without_faults PROPERTIES PASS_REGULAR_EXPRESSION "30 of 30 runs passed")
  add_test(NAME dray_sim.jobs_and_coverage
           COMMAND dray-sim --workload random_dag --tasks 100 --seeds 1-20 --nodes 3 --cpus 2 --quiet --jobs 2
                   --coverage --spec faults=swarm,faults_until_ms=300,task_retries=-1,inline_kb=0,head_cpus=0)
  set_tests_properties(dray_sim.jobs_and_coverage PROPERTIES
                       PASS_REGULAR_EXPRESSION "20 of 20 runs passed .*code probes .*task.retry.worker_died +[1-9]")
  # Scenario files (sim/scenario.h): a shrunk failure replays, and the same
  # fault with retries passes.
  add_test(NAME dray_sim.scenario_fails
           COMMAND dray-sim --scenario ${CMAKE_CURRENT_SOURCE_DIR}/scenarios/node_crash_no_retries.scenario)
  set_tests_properties(dray_sim.scenario_fails PROPERTIES PASS_REGULAR_EXPRESSION
                       "node 1 died while it held task .*reproduce with: dray-sim --scenario")
  add_test(NAME dray_sim.scenario_passes
           COMMAND dray-sim --scenario ${CMAKE_CURRENT_SOURCE_DIR}/scenarios/node_crash_retried.scenario)
  set_tests_properties(dray_sim.scenario_passes PROPERTIES PASS_REGULAR_EXPRESSION "workload=random_dag ok .*crashes=1 ")
  add_test(NAME dray_sim.scenario_network_faults
           COMMAND dray-sim --scenario ${CMAKE_CURRENT_SOURCE_DIR}/scenarios/network_faults.scenario)
  set_tests_properties(dray_sim.scenario_network_faults PROPERTIES PASS_REGULAR_EXPRESSION
                       "workload=random_dag ok .*net_faults=8 lost=[1-9][0-9]* dup=[1-9][0-9]* ahead=[1-9][0-9]* held=[1-9][0-9]* deferred=[1-9]")
  add_test(NAME dray_sim.scenario_control_service_restart
           COMMAND dray-sim --scenario ${CMAKE_CURRENT_SOURCE_DIR}/scenarios/control_service_restart.scenario)
  set_tests_properties(dray_sim.scenario_control_service_restart PROPERTIES PASS_REGULAR_EXPRESSION
                       "workload=actors ok .*crashes=1 ")
  # A restarted control service once inherited its predecessor's health timer
  # (health rounds ran twice as often, live nodes were declared dead, and an
  # old actor incarnation ran after a newer one): this seed caught it.
  add_test(NAME dray_sim.actors_seed767_control_service_restart
           COMMAND dray-sim --seed 767 --nodes 4 --cpus 2 --workload actors
                   --spec faults=swarm,faults_until_ms=500,task_retries=-1,head_cpus=0)
  set_tests_properties(dray_sim.actors_seed767_control_service_restart PROPERTIES
                       PASS_REGULAR_EXPRESSION "seed=767 workload=actors ok")
  # A retried caller task's first attempt (its worker dead) had calls to an
  # actor held in lost frames; they arrived after the retry's first calls
  # and before the node heard of the death, and ran between them. The actor
  # now drops calls from an older attempt of a caller task that has called
  # it from a newer one (actor.call.from_superseded_caller).
  add_test(NAME dray_sim.actors_seed467_superseded_caller
           COMMAND dray-sim --seed 467 --nodes 4 --cpus 2 --workload actors
                   --spec faults=swarm,faults_until_ms=500,task_retries=-1,head_cpus=0)
  set_tests_properties(dray_sim.actors_seed467_superseded_caller PROPERTIES
                       PASS_REGULAR_EXPRESSION "seed=467 workload=actors ok")
  # A failing swarm seed writes its drawn faults as a scenario file, which
  # replays it with the same trace hash (the failure is forced by a 1 ms
  # liveness bound).
  add_test(NAME dray_sim.drawn_scenario_replays
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/drawn_scenario_replay.sh $<TARGET_FILE:dray-sim>
                   ${CMAKE_CURRENT_BINARY_DIR}/drawn-scenario)
  set_tests_properties(dray_sim.drawn_scenario_replays PROPERTIES PASS_REGULAR_EXPRESSION "drawn scenario replays exactly")
  add_test(NAME dray_sim.bad_jobs COMMAND dray-sim --workload four_tasks --jobs 0)
  set_tests_properties(dray_sim.bad_jobs PROPERTIES PASS_REGULAR_EXPRESSION "--jobs must be in \\[1, 256\\]")
  add_test(NAME dray_sim.bad_flag COMMAND dray-sim --workload four_tasks --bogus 1)
  set_tests_properties(dray_sim.bad_flag PROPERTIES PASS_REGULAR_EXPRESSION "unknown flag '--bogus'.*usage: dray-sim")
  add_test(NAME dray_sim.bad_workload COMMAND dray-sim --workload no_such_workload)
  set_tests_properties(dray_sim.bad_workload PROPERTIES PASS_REGULAR_EXPRESSION "unknown workload 'no_such_workload'")
  add_test(NAME dray_sim.list COMMAND dray-sim --list)
  set_tests_properties(dray_sim.list PROPERTIES PASS_REGULAR_EXPRESSION "random_dag.*recovery.*four_tasks.*resources_options")
endif()
