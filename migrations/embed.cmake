# Turns migrations/NNNN_name.sql into a C array so the binary needs no file from the
# source tree (systemd starts it in /, Docker in its image's folder).
# Inputs: MIGRATIONS_DIR, OUTPUT, and ARRAY (the array's name; migrations_embedded when
# unset: the SQLite schema. CMakeLists.txt also embeds migrations/postgresql/ as
# pgmigrations_embedded).
if(NOT ARRAY)
  set(ARRAY migrations_embedded)
endif()
file(RELATIVE_PATH ARRAY_SOURCE "${CMAKE_CURRENT_LIST_DIR}/.." "${MIGRATIONS_DIR}")
file(GLOB files RELATIVE "${MIGRATIONS_DIR}" "${MIGRATIONS_DIR}/[0-9][0-9][0-9][0-9]_*.sql")
list(SORT files)
set(body "")
set(entries "")
set(i 0)
foreach(f IN LISTS files)
  string(REGEX MATCH "^([0-9][0-9][0-9][0-9])_(.*)\\.sql$" _ "${f}")
  set(num "${CMAKE_MATCH_1}")
  set(name "${CMAKE_MATCH_2}")
  math(EXPR version "${num}")
  file(READ "${MIGRATIONS_DIR}/${f}" hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
  string(APPEND body "static const char m${i}[] = {${hex} 0x00};\n")
  string(APPEND entries "    {${version}, \"${name}\", m${i}},\n")
  math(EXPR i "${i} + 1")
endforeach()
file(WRITE "${OUTPUT}.tmp"
  "/* generated from ${ARRAY_SOURCE} by migrations/embed.cmake: do not edit */\n"
  "#include \"issuerhook/migrate.h\"\n"
  "extern const struct migration ${ARRAY}[];\n"
  "extern const size_t ${ARRAY}_count;\n${body}\n"
  "const struct migration ${ARRAY}[] = {\n${entries}    {0, 0, 0}};\n"
  "const size_t ${ARRAY}_count = ${i};\n")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
