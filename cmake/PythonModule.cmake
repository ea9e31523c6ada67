# The Python extension arrowquant._core (src/python/, nanobind) and the package beside it in
# build/python/arrowquant (python/arrowquant/*.py copied there), so `PYTHONPATH=build/python` imports
# the development build. scikit-build-core (pyproject.toml) builds the same target into a wheel.
# The project's .venv (which has pyarrow and nanobind) unless a Python is named (scikit-build-core names its own).
if(NOT DEFINED Python_EXECUTABLE AND EXISTS "${CMAKE_SOURCE_DIR}/.venv/bin/python")
  set(Python_EXECUTABLE "${CMAKE_SOURCE_DIR}/.venv/bin/python")
endif()
find_package(Python 3.9 REQUIRED COMPONENTS Interpreter Development.Module)
execute_process(COMMAND "${Python_EXECUTABLE}" -m nanobind --cmake_dir
                OUTPUT_VARIABLE _nb_dir RESULT_VARIABLE _nb_rc OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT _nb_rc EQUAL 0)
  message(FATAL_ERROR "AQ_PYTHON_MODULE needs nanobind in ${Python_EXECUTABLE} (pip install nanobind)")
endif()
find_package(nanobind CONFIG REQUIRED PATHS "${_nb_dir}" NO_DEFAULT_PATH)

file(GLOB AQ_PYTHON_SOURCES CONFIGURE_DEPENDS src/python/*.cc)
nanobind_add_module(_core NB_STATIC ${AQ_PYTHON_SOURCES})
target_include_directories(_core PRIVATE src include ${CMAKE_BINARY_DIR}/generated)
target_link_libraries(_core PRIVATE aq_reports aq_interop)
set(AQ_PYTHON_PACKAGE_DIR "${CMAKE_BINARY_DIR}/python/arrowquant")
# Installed next to pyarrow in site-packages: its libarrow/libparquet are found there (and are
# already loaded: the package imports pyarrow first).
set_target_properties(_core PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${AQ_PYTHON_PACKAGE_DIR}"
                                       INSTALL_RPATH "$ORIGIN/../pyarrow")
file(GLOB AQ_PYTHON_FILES CONFIGURE_DEPENDS python/arrowquant/*.py python/arrowquant/*.pyi python/arrowquant/py.typed)
add_custom_target(aq_python_package ALL
  COMMAND ${CMAKE_COMMAND} -E make_directory "${AQ_PYTHON_PACKAGE_DIR}"
  COMMAND ${CMAKE_COMMAND} -E copy_if_different ${AQ_PYTHON_FILES} "${AQ_PYTHON_PACKAGE_DIR}/"
  DEPENDS ${AQ_PYTHON_FILES} COMMENT "arrowquant package -> build/python")
if(SKBUILD)
  install(TARGETS _core LIBRARY DESTINATION arrowquant)
endif()
