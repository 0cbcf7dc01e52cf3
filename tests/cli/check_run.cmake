# Runs one command and checks how it ended. Used by tests/cli.cmake for the CLI smoke tests.
#
#   cmake -DEXPECT=ok|fail [-DSTDOUT=regex] [-DSTDERR=regex] [-DPRESENT=f1|f2] [-DABSENT=f1|f2]
#         -P check_run.cmake -- <command> [args...]
#
# EXPECT=fail: the exit status must be a non-zero number (a crash is not an acceptable failure),
# stderr exactly one line "moerouter: error: ..." matching STDERR, and none of the ABSENT files
# may exist afterwards — nor any temporary beside them. The ABSENT files are deleted first and
# their directories created, so a file that exists afterwards was written by this run.
# EXPECT=ok: exit status 0, STDOUT matched, every PRESENT file exists (also deleted first, so
# a stale file from an earlier run cannot pass the test).

set(cmd "")
set(seen_separator FALSE)
foreach(i RANGE 1 ${CMAKE_ARGC})
  if(i EQUAL CMAKE_ARGC)
    break()
  endif()
  if(seen_separator)
    list(APPEND cmd "${CMAKE_ARGV${i}}")
  elseif(CMAKE_ARGV${i} STREQUAL "--")
    set(seen_separator TRUE)
  endif()
endforeach()
if(NOT cmd)
  message(FATAL_ERROR "check_run.cmake: no command after --")
endif()

string(REPLACE "|" ";" absent "${ABSENT}")
string(REPLACE "|" ";" present "${PRESENT}")
foreach(f IN LISTS absent present)
  file(REMOVE "${f}")
  get_filename_component(d "${f}" DIRECTORY)
  file(MAKE_DIRECTORY "${d}")
endforeach()

execute_process(COMMAND ${cmd} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
string(REPLACE ";" " " shown "${cmd}")
message(STATUS "command: ${shown}\nexit status: ${rc}\n--- stdout ---\n${out}--- stderr ---\n${err}")

set(problems "")
if(EXPECT STREQUAL "fail")
  if(NOT rc MATCHES "^[0-9]+$")
    string(APPEND problems "expected a non-zero exit status, got '${rc}' (a crash?)\n")
  elseif(rc EQUAL 0)
    string(APPEND problems "expected a non-zero exit status, got 0\n")
  endif()
  if(NOT err MATCHES "^moerouter: error: [^\n]+\n$")
    string(APPEND problems "expected stderr to be one line 'moerouter: error: ...'\n")
  endif()
  if(DEFINED STDERR AND NOT err MATCHES "${STDERR}")
    string(APPEND problems "expected stderr to match '${STDERR}'\n")
  endif()
  foreach(f IN LISTS absent)
    if(EXISTS "${f}")
      string(APPEND problems "expected no file '${f}', but it exists\n")
    endif()
    file(GLOB leftovers "${f}.tmp-*")
    if(leftovers)
      string(APPEND problems "expected no temporaries, found ${leftovers}\n")
    endif()
  endforeach()
elseif(EXPECT STREQUAL "ok")
  if(NOT rc STREQUAL "0")
    string(APPEND problems "expected exit status 0, got '${rc}'\n")
  endif()
  foreach(f IN LISTS present)
    if(NOT EXISTS "${f}")
      string(APPEND problems "expected the file '${f}', it does not exist\n")
    endif()
  endforeach()
else()
  message(FATAL_ERROR "check_run.cmake: EXPECT must be ok or fail, got '${EXPECT}'")
endif()
if(DEFINED STDOUT AND NOT out MATCHES "${STDOUT}")
  string(APPEND problems "expected stdout to match '${STDOUT}'\n")
endif()

if(problems)
  message(FATAL_ERROR "${problems}")
endif()
