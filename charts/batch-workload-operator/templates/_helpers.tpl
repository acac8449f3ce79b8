{{/* The name of the release's objects: the release name if it already names the chart. */}}
{{- define "batch-workload-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Selects the operator's pods; fixed for the life of a release (a Deployment's selector is immutable). */}}
{{- define "batch-workload-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end -}}

{{- define "batch-workload-operator.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: batch-workload-operator
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "batch-workload-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "batch-workload-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* "true" when replicas can act at the same time: more than one, or asked for (rolling updates). */}}
{{- define "batch-workload-operator.leaderElect" -}}
{{- or .Values.leaderElection.enabled (gt (int .Values.replicaCount) 1) -}}
{{- end -}}
