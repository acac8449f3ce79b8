// clientgo-bench: the reference contender of `npm run bench`. The least a client-go program
// has to do for what a BatchWorkload asks: list the nodes by label selector, then create one pod
// per node (bound by spec.nodeName) with at most -concurrency pods not yet Ready, seeing
// readiness through one pod watch. No retries beyond transient create errors, no status, no
// Events.
//
// Protocol with scripts/bench.ts (so that start-up is measured apart from the run):
//
//	stdout "ready <nodes>"   nodes listed, pod watch open
//	stdin  "go"              start creating pods
//	stdout {"makespanSeconds":...,"pods":...}   every pod Ready
//	stdin  "exit"            exit 0 (the bench reads /proc/<pid> first)
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	watchtools "k8s.io/client-go/tools/watch"
)

type result struct {
	MakespanSeconds    float64 `json:"makespanSeconds"`
	FirstCreateSeconds float64 `json:"firstCreateSeconds"`
	Pods               int     `json:"pods"`
	CreateRetries      int     `json:"createRetries"`
	MeanCreateMillis   float64 `json:"meanCreateMillis"`
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "clientgo-bench: "+format+"\n", args...)
	os.Exit(1)
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// The pod the operator would create for this node, minus what only an operator needs
// (owner reference, revision and attempt annotations).
func podFor(namespace, prefix, runLabel, node, image string, annotations map[string]string) *corev1.Pod {
	no := false
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:        strings.ToLower(prefix + "-" + node),
			Namespace:   namespace,
			Labels:      map[string]string{"app.kubernetes.io/managed-by": "clientgo-bench", "bench.batch.example.com/run": runLabel, "batch.example.com/node": node},
			Annotations: annotations,
		},
		Spec: corev1.PodSpec{
			NodeName:                     node,
			RestartPolicy:                corev1.RestartPolicyAlways,
			AutomountServiceAccountToken: &no,
			EnableServiceLinks:           &no,
			SecurityContext:              &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
			Containers: []corev1.Container{{
				Name:  "workload",
				Image: image,
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: &no,
					SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
				},
			}},
		},
	}
}

func main() {
	kubeconfig := flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig")
	namespace := flag.String("namespace", "default", "namespace for the pods")
	selector := flag.String("selector", "", "node label selector")
	concurrency := flag.Int("concurrency", 100, "pods not yet Ready at most")
	image := flag.String("image", "busybox", "container image")
	annotationsJSON := flag.String("annotations", "{}", "pod annotations, a JSON object")
	prefix := flag.String("name-prefix", "clientgo", "pod name prefix")
	qps := flag.Float64("qps", 500, "client-side rate limit (rest.Config QPS)")
	burst := flag.Int("burst", 1000, "client-side burst (rest.Config Burst)")
	flag.Parse()

	var annotations map[string]string
	if err := json.Unmarshal([]byte(*annotationsJSON), &annotations); err != nil {
		fail("-annotations: %v", err)
	}
	config, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		fail("kubeconfig: %v", err)
	}
	config.QPS = float32(*qps)
	config.Burst = *burst
	config.UserAgent = "clientgo-bench"
	client := kubernetes.NewForConfigOrDie(config)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	nodeList, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: *selector})
	if err != nil {
		fail("listing nodes: %v", err)
	}
	nodes := make([]string, 0, len(nodeList.Items))
	for _, n := range nodeList.Items {
		nodes = append(nodes, n.Name)
	}
	sort.Strings(nodes)
	listedAt := nodeList.ResourceVersion
	nodeList = nil

	// One waiter per pod, closed once when the watch first sees the pod Ready.
	type waiter struct {
		once  sync.Once
		ready chan struct{}
	}
	waiters := make(map[string]*waiter, len(nodes))
	for _, node := range nodes {
		waiters[strings.ToLower(*prefix+"-"+node)] = &waiter{ready: make(chan struct{})}
	}

	// The one pod watch, from the node list's resourceVersion (etcd's revision is global), so no
	// pod LIST is needed; RetryWatcher resumes it if the API server closes it.
	runLabel := *prefix
	pods := client.CoreV1().Pods(*namespace)
	watcher, err := watchtools.NewRetryWatcherWithContext(ctx, listedAt, &cache.ListWatch{
		WatchFuncWithContext: func(ctx context.Context, options metav1.ListOptions) (watch.Interface, error) {
			options.LabelSelector = "bench.batch.example.com/run=" + runLabel
			return pods.Watch(ctx, options)
		},
	})
	if err != nil {
		fail("pod watch: %v", err)
	}
	defer watcher.Stop()
	go func() {
		for event := range watcher.ResultChan() {
			pod, ok := event.Object.(*corev1.Pod)
			if !ok || (event.Type != watch.Added && event.Type != watch.Modified) || !podReady(pod) {
				continue
			}
			if w, found := waiters[pod.Name]; found {
				w.once.Do(func() { close(w.ready) })
			}
		}
	}()

	stdin := bufio.NewScanner(os.Stdin)
	fmt.Printf("ready %d\n", len(nodes))
	if !stdin.Scan() || strings.TrimSpace(stdin.Text()) != "go" {
		fail("expected \"go\" on stdin")
	}

	started := time.Now()
	var firstCreate time.Duration
	var firstOnce sync.Once
	var retries int
	var createTime time.Duration
	var creates int
	var mu sync.Mutex
	slots := make(chan struct{}, *concurrency)
	var wg sync.WaitGroup
	for _, node := range nodes {
		slots <- struct{}{}
		wg.Add(1)
		go func(node string) {
			defer wg.Done()
			defer func() { <-slots }()
			pod := podFor(*namespace, *prefix, runLabel, node, *image, annotations)
			for attempt := 1; ; attempt++ {
				sent := time.Now()
				_, err := pods.Create(ctx, pod, metav1.CreateOptions{})
				mu.Lock()
				createTime += time.Since(sent)
				creates++
				mu.Unlock()
				if err == nil || apierrors.IsAlreadyExists(err) {
					break
				}
				if attempt == 10 {
					fail("creating pod %s: %v", pod.Name, err)
				}
				mu.Lock()
				retries++
				mu.Unlock()
				time.Sleep(time.Duration(attempt) * 100 * time.Millisecond)
			}
			firstOnce.Do(func() { firstCreate = time.Since(started) })
			<-waiters[pod.Name].ready
		}(node)
	}
	wg.Wait()
	makespan := time.Since(started)

	out, _ := json.Marshal(result{
		MakespanSeconds:    makespan.Seconds(),
		FirstCreateSeconds: firstCreate.Seconds(),
		Pods:               len(nodes),
		CreateRetries:      retries,
		MeanCreateMillis:   float64(createTime.Milliseconds()) / float64(max(creates, 1)),
	})
	fmt.Println(string(out))
	if stdin.Scan() {
		_ = stdin.Text() // "exit"
	}
}
