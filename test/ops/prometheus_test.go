package ops

import (
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"
)

const (
	alertsFile     = "configs/prometheus/alerts.yml"
	alertsTestFile = "configs/prometheus/alerts_test.yml"
)

// designMetrics returns the metrics DESIGN.md section 9 promises, which are
// all the rules may use.
func designMetrics() []string {
	return []string{
		"pgtier_backup_last_success_timestamp_seconds",
		"pgtier_backup_last_failure_timestamp_seconds",
		"pgtier_backup_runs_total",
		"pgtier_backup_duration_seconds",
		"pgtier_backup_size_bytes",
		"pgtier_backup_next_run_timestamp_seconds",
		"pgtier_tier_backups",
		"pgtier_tier_bytes",
		"pgtier_prune_deleted_total",
		"pgtier_prune_refused_total",
		"pgtier_restore_access_total",
		"pgtier_audit_chain_ok",
		"pgtier_verify_last_success_timestamp_seconds",
		"pgtier_build_info",
	}
}

// ruleFile is the part of a Prometheus rule file these tests look at.
type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Record      string            `yaml:"record"`
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// ruleTests is the part of a promtool test file these tests look at.
type ruleTests struct {
	Tests []struct {
		Name      string `yaml:"name"`
		AlertTest []struct {
			EvalTime  string `yaml:"eval_time"`
			AlertName string `yaml:"alertname"`
			ExpAlerts []any  `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

func TestAlertRulesCheck(t *testing.T) {
	promtool := need(t, "promtool", "prometheus")
	out, err := run(t, repoFile(t, "."), promtool, "check", "rules", filepath.FromSlash(alertsFile))
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

func TestAlertRulesUnitTests(t *testing.T) {
	promtool := need(t, "promtool", "prometheus")
	dir := filepath.Dir(repoFile(t, alertsTestFile))
	out, err := run(t, dir, promtool, "test", "rules", filepath.Base(alertsTestFile))
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

// metricRef finds metric names in an expression, but not inside the name of
// a recording rule such as cluster:pgtier_x:max.
var metricRef = regexp.MustCompile(`(?:^|[^:\w])(pgtier_\w+)`)

func TestAlertRulesUseDesignMetrics(t *testing.T) {
	rules := loadRules(t)
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			for _, m := range metricRef.FindAllStringSubmatch(r.Expr, -1) {
				if !slices.Contains(designMetrics(), m[1]) {
					t.Errorf("rule %s%s uses %s, which is not a metric of DESIGN.md section 9", r.Alert, r.Record, m[1])
				}
			}
		}
	}
}

func TestAlertsHaveSeverityAndText(t *testing.T) {
	for _, a := range alerts(t) {
		switch a.severity {
		case "critical", "warning", "info":
		default:
			t.Errorf("alert %s: severity %q, want critical, warning or info", a.name, a.severity)
		}
		if a.summary == "" || a.description == "" {
			t.Errorf("alert %s: needs both a summary and a description annotation", a.name)
		}
	}
}

// TestEveryAlertTestedBothWays checks that alerts_test.yml shows each alert
// firing at some time and not firing at another.
func TestEveryAlertTestedBothWays(t *testing.T) {
	var tests ruleTests
	if err := yaml.Unmarshal(readRepoFile(t, alertsTestFile), &tests); err != nil {
		t.Fatalf("parsing %s: %v", alertsTestFile, err)
	}
	firing := map[string]bool{}
	quiet := map[string]bool{}
	for _, tc := range tests.Tests {
		for _, at := range tc.AlertTest {
			if len(at.ExpAlerts) > 0 {
				firing[at.AlertName] = true
			} else {
				quiet[at.AlertName] = true
			}
		}
	}
	for _, a := range alerts(t) {
		if !firing[a.name] {
			t.Errorf("alert %s: no test in %s where it fires", a.name, alertsTestFile)
		}
		if !quiet[a.name] {
			t.Errorf("alert %s: no test in %s where it does not fire", a.name, alertsTestFile)
		}
	}
}

type alert struct{ name, severity, summary, description string }

// alerts returns the alerting rules of alerts.yml; there must be some.
func alerts(t *testing.T) []alert {
	t.Helper()
	var as []alert
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				as = append(as, alert{r.Alert, r.Labels["severity"], r.Annotations["summary"], r.Annotations["description"]})
			}
		}
	}
	if len(as) == 0 {
		t.Fatalf("%s has no alerting rules", alertsFile)
	}
	return as
}

func loadRules(t *testing.T) ruleFile {
	t.Helper()
	var rf ruleFile
	if err := yaml.Unmarshal(readRepoFile(t, alertsFile), &rf); err != nil {
		t.Fatalf("parsing %s: %v", alertsFile, err)
	}
	return rf
}
