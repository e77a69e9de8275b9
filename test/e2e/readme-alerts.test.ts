/**
 * The example alerts of the README's Operations section are real Prometheus rules: promtool
 * checks them, every metric they use is one the server exports (the README's metric table),
 * and promtool's rule tests show each firing on series that should fire it, and not on
 * series that should not.
 */
import {spawnSync} from 'node:child_process'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import YAML from 'yaml'
import {PROJECT_ROOT, tempDir} from '../helpers/cli.js'

const README = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8')
const RULES = /```yaml\n(# wid-alerts\.yaml\n[\s\S]*?)```/.exec(README)![1]!
const PROMTOOL = process.env.PROMTOOL ?? '/opt/promtool/promtool'

interface Rule {
  alert: string
  expr: string
  labels: Record<string, string>
  annotations: {summary: string}
}
const rules = (YAML.parse(RULES) as {groups: {rules: Rule[]}[]}).groups[0]!.rules

function promtool(args: string[], cwd: string): {code: number | null; output: string} {
  const result = spawnSync(PROMTOOL, args, {cwd, encoding: 'utf8'})
  return {code: result.status, output: `${result.stdout}${result.stderr}`}
}

describe('the README example alerts', () => {
  const tmp = tempDir()
  afterAll(() => tmp.cleanup())
  writeFileSync(join(tmp.path, 'wid-alerts.yaml'), RULES)

  it('are valid rules, over metrics the server exports', () => {
    const checked = promtool(['check', 'rules', 'wid-alerts.yaml'], tmp.path)
    expect(checked.code, checked.output).toBe(0)
    expect(rules.map((rule) => rule.alert)).toEqual(['WidServerErrors', 'WidLoginsRefused'])
    const table = README.slice(README.indexOf('#### Metrics: `--diag-addr`'))
    for (const rule of rules) {
      for (const [name] of rule.expr.matchAll(/wid_[a-z_]+/g)) expect(table, `${rule.alert} uses ${name}`).toContain(`\`${name.replace(/_bucket$/, '')}\``)
    }
  })

  it('fire on the series they are for, and not on others', () => {
    const summary = (alert: string, instance: string) => rules.find((rule) => rule.alert === alert)!.annotations.summary.replace('{{ $labels.instance }}', instance)
    const severity = (alert: string) => rules.find((rule) => rule.alert === alert)!.labels.severity
    // Server a: 10% of requests answered 503 for 30 minutes; server b: 1%. Logins on a: 2 refused a minute; on b: one a minute.
    const tests = {
      rule_files: ['wid-alerts.yaml'],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: [
            {series: 'wid_server_requests_total{instance="a",route="/v1/issueX509Svid",code="200"}', values: '0+900x40'},
            {series: 'wid_server_requests_total{instance="a",route="/v1/issueX509Svid",code="503"}', values: '0+100x40'},
            {series: 'wid_server_requests_total{instance="b",route="/v1/issueX509Svid",code="200"}', values: '0+990x40'},
            {series: 'wid_server_requests_total{instance="b",route="/v1/issueX509Svid",code="503"}', values: '0+10x40'},
            {series: 'wid_server_logins_total{instance="a",result="failed"}', values: '0+5x40'},
            {series: 'wid_server_logins_total{instance="b",result="failed"}', values: '0+1x40'},
          ],
          alert_rule_test: [
            {eval_time: '5m', alertname: 'WidServerErrors', exp_alerts: []},
            {eval_time: '30m', alertname: 'WidServerErrors', exp_alerts: [{exp_labels: {instance: 'a', severity: severity('WidServerErrors')}, exp_annotations: {summary: summary('WidServerErrors', 'a')}}]},
            {eval_time: '30m', alertname: 'WidLoginsRefused', exp_alerts: [{exp_labels: {instance: 'a', severity: severity('WidLoginsRefused')}, exp_annotations: {summary: summary('WidLoginsRefused', 'a')}}]},
          ],
        },
      ],
    }
    writeFileSync(join(tmp.path, 'tests.yaml'), YAML.stringify(tests))
    const tested = promtool(['test', 'rules', 'tests.yaml'], tmp.path)
    expect(tested.code, tested.output).toBe(0)
  })
})
