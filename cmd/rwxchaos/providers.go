package main

import "github.com/rwxchaos/rwxchaos/framework/provider/all"

func registerProviders() { all.Register() }
