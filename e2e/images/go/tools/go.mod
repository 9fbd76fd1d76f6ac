// Small static programs of the e2e images: the pod sandbox (pause) and the check helper (runas).
// Standard library only.
module pg-ha-cdk8s/e2e/images/tools

go 1.24
