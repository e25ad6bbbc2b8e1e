// Slotwise on Azure: a Flex Consumption Function App with a user-assigned identity, and everything it
// reads through that identity (no keys anywhere): Storage (queues, the deployment package, host
// state), Cosmos DB, Batch, Key Vault, Application Insights. Structure and names follow Microsoft's
// azd Functions samples (abbreviations.json prefixes, resourceToken, tags azd-env-name/azd-service-name).
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; names and tags derive from it.')
param environmentName string

@minLength(1)
@description('Region for every resource (Flex Consumption must be offered there).')
param location string

@description('Id of the user running azd: gets the data roles to administer tenants with the admin CLI.')
param principalId string = ''

@description('Cosmos DB capacity mode: serverless costs nothing at rest.')
param cosmosServerless bool = true

@description('Origins allowed to call the API from a browser (the dashboard is served by the app itself).')
param dashboardOrigins array = []

var abbrs = loadJsonContent('./abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var functionAppName = '${abbrs.webSitesFunctions}${resourceToken}'
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}api-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    applicationInsightsName: '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
    appPrincipalId: identity.outputs.principalId
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    appPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
  }
}

module cosmos 'app/cosmos.bicep' = {
  name: 'cosmos'
  scope: rg
  params: {
    name: '${abbrs.documentDBDatabaseAccounts}${resourceToken}'
    location: location
    tags: tags
    serverless: cosmosServerless
    appPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
  }
}

module batch 'app/batch.bicep' = {
  name: 'batch'
  scope: rg
  params: {
    name: '${abbrs.batchBatchAccounts}${resourceToken}'
    location: location
    tags: tags
    appPrincipalId: identity.outputs.principalId
  }
}

module keyVault 'app/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: '${abbrs.keyVaultVaults}${resourceToken}'
    location: location
    tags: tags
    appPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
  }
}

module api 'app/api.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: functionAppName
    planName: '${abbrs.webServerFarms}${resourceToken}'
    location: location
    tags: union(tags, { 'azd-service-name': 'api' })
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    cosmosEndpoint: cosmos.outputs.endpoint
    cosmosDatabase: cosmos.outputs.databaseName
    batchEndpoint: batch.outputs.endpoint
    batchAccountName: batch.outputs.name
    keyVaultUri: keyVault.outputs.uri
    allowedOrigins: dashboardOrigins
  }
  // The first start checks Cosmos and Storage: their role assignments come first.
  dependsOn: [storage, cosmos, batch, keyVault, monitoring]
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = api.outputs.name
output SLOTWISE_URL string = 'https://${api.outputs.defaultHostName}/api'
output COSMOS_ENDPOINT string = cosmos.outputs.endpoint
output COSMOS_DATABASE string = cosmos.outputs.databaseName
output KEY_VAULT_URI string = keyVault.outputs.uri
output BATCH_ENDPOINT string = batch.outputs.endpoint
output BATCH_ACCOUNT_NAME string = batch.outputs.name
output STORAGE_ACCOUNT_NAME string = storage.outputs.name
