// Package ops checks the files that deploy pgtier, with the tools operators
// use on them: the Prometheus alert rules (promtool check rules, promtool test
// rules), the systemd unit (systemd-analyze verify and security) and the
// Dockerfile (static checks; no Docker engine is needed).
//
// A missing tool fails the tests when the CI environment variable is set and
// skips them otherwise; test/install.sh installs every tool. The package has
// no code outside its tests.
package ops
