#!/usr/bin/env bash
# The alerting rules: promtool check rules, then promtool test rules with deploy/prometheus/tunnel-alerts.test.yml
# (each alert fires on what it describes and stays quiet on a healthy fleet).
set -euo pipefail
cd "$(dirname "$0")/../../deploy/prometheus"
timeout 120 promtool check rules tunnel-alerts.yml
timeout 300 promtool test rules tunnel-alerts.test.yml
