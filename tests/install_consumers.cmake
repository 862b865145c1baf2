# Installs the build into a scratch prefix, then builds and runs one program
# found through pkg-config (shared and --static) and one through find_package.
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(LAST_OUTPUT "${out}" PARENT_SCOPE)
endfunction()

run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
file(GLOB pcdir ${prefix}/lib*/pkgconfig ${prefix}/lib/*/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "${pcdir}")

run(pkg-config --cflags --libs h4mk)
string(STRIP "${LAST_OUTPUT}" flags)
separate_arguments(flags)
run(cc -std=c17 -o ${WORK_DIR}/consumer_shared ${SOURCE_DIR}/tests/install_consumer/consumer.c ${flags}
    -Wl,-rpath,${pcdir}/..)
run(${WORK_DIR}/consumer_shared)

run(pkg-config --static --cflags --libs h4mk)
string(STRIP "${LAST_OUTPUT}" sflags)
separate_arguments(sflags)
run(cc -std=c17 -o ${WORK_DIR}/consumer_static ${SOURCE_DIR}/tests/install_consumer/consumer.c
    -Wl,-Bstatic -lh4mk -Wl,-Bdynamic ${sflags})
run(${WORK_DIR}/consumer_static)

# The adapter runtime, a library of its own on top of libh4mk.
run(pkg-config --cflags --libs h4mk-adapters)
string(STRIP "${LAST_OUTPUT}" aflags)
separate_arguments(aflags)
run(cc -std=c17 -o ${WORK_DIR}/consumer_adapters ${SOURCE_DIR}/tests/install_consumer/consumer_adapters.c
    ${aflags} -Wl,-rpath,${pcdir}/..)
run(${WORK_DIR}/consumer_adapters)
run(pkg-config --static --cflags --libs h4mk-adapters)
string(STRIP "${LAST_OUTPUT}" asflags)
separate_arguments(asflags)
run(cc -std=c17 -o ${WORK_DIR}/consumer_adapters_static
    ${SOURCE_DIR}/tests/install_consumer/consumer_adapters.c
    -Wl,-Bstatic -lh4mk-adapters -lh4mk -Wl,-Bdynamic ${asflags})
run(${WORK_DIR}/consumer_adapters_static)

run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/install_consumer -B ${WORK_DIR}/cmake_consumer
    -DCMAKE_PREFIX_PATH=${prefix})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/cmake_consumer)
run(${WORK_DIR}/cmake_consumer/consumer)
set(tracks "${LAST_OUTPUT}")
run(${WORK_DIR}/cmake_consumer/consumer_adapters)
message(STATUS "installed package works: ${tracks}${LAST_OUTPUT}")
