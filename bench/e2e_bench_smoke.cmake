# ctest e2e_bench_smoke: e2e_bench with tiny sizes and durations exits 0 and
# writes JSON that python3's json module loads.
file(REMOVE ${OUT})
execute_process(COMMAND ${BENCH} --seconds 0.05 --large-mb 1 --batch 20 --clients 2 --actors 2 --wait-refs 10
                        --reduce-values 16 --json ${OUT}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "e2e_bench exited with ${rc}")
endif()
execute_process(COMMAND ${PYTHON} -c
                  "import json,sys; d=json.load(open(sys.argv[1])); assert len(d['results']) >= 15, len(d['results']); print(len(d['results']), 'results')"
                  ${OUT}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "e2e_bench's JSON does not parse (${OUT})")
endif()
